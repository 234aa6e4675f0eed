import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { ForwardSink, type ForwardError, type ServerInfo } from "../../src/forward/index.js";
import { startFluentServer } from "../helpers/forward-fluent.js";
import { generateForwardCerts } from "../helpers/forward-certs.js";
import { until } from "../helpers/fake-time.js";

const security = { serverHostname: "fluent-server", sharedKey: "s3cret", authorize: false, userDict: {} };

test("a sink with the right shared key completes the handshake and delivers", async (t) => {
  const peer = await startFluentServer({ security });
  t.after(() => peer.close());
  const sink = new ForwardSink({
    port: peer.port,
    sharedKey: "s3cret",
    selfHostname: "client-a",
    requireAck: true,
  });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const errors: Error[] = [];
  sink.on("serverError", (err) => errors.push(err));
  sink.send("secure.tag", { ok: 1 }, 1_700_000_000_000);
  await sink.flush();
  await peer.waitFor(1);
  assert.deepEqual(peer.entries, [
    { tag: "secure.tag", time: { seconds: 1_700_000_000, nanoseconds: 0 }, record: { ok: 1 } },
  ]);
  assert.deepEqual(errors, []);
});

test("a wrong shared key gives one FORWARD_AUTH_FAILED with the server's reason, then backs off", async (t) => {
  const peer = await startFluentServer({ security });
  t.after(() => peer.close());
  let connections = 0;
  const sink = new ForwardSink({
    port: peer.port,
    sharedKey: "wrong",
    selfHostname: "client-a",
    reconnect: { minDelayMs: 50, maxDelayMs: 200 },
  });
  t.after(() => sink.close({ timeoutMs: 100 }));
  const errors: [ForwardError, ServerInfo][] = [];
  sink.on("serverError", (err, server) => errors.push([err, server]));
  sink.on("connect", () => connections++);
  sink.send("secure.tag", { ok: 1 });
  await once(sink, "serverError");
  // A few backoff rounds: the error is reported once, not per attempt.
  await until(() => sink.stats().servers[0]!.repeatedErrors >= 2, "two more refused attempts");
  assert.equal(errors.length, 1);
  const [err, server] = errors[0]!;
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.message, /shared key mismatch/);
  assert.equal(server.id, `127.0.0.1:${peer.port}`);
  assert.equal(connections, 0);
  const stats = sink.stats().servers[0]!;
  assert.equal(stats.lastError?.code, "FORWARD_AUTH_FAILED");
  assert.ok(stats.failures >= 1 && stats.failures <= 6, `${stats.failures} attempts in 400 ms with backoff`);
  assert.equal(peer.entries.length, 0);
  const report = await sink.close({ timeoutMs: 50 });
  assert.equal(report.undeliveredEvents, 1);
  assert.equal(report.delivered, false);
});

test("user authentication with the right password delivers; a wrong one fails with the server's reason", async (t) => {
  const peer = await startFluentServer({
    security: { ...security, authorize: true, userDict: { alice: "pw1" } },
  });
  t.after(() => peer.close());
  const good = new ForwardSink({ port: peer.port, sharedKey: "s3cret", username: "alice", password: "pw1" });
  t.after(() => good.close({ timeoutMs: 500 }));
  good.send("user.tag", { who: "alice" });
  await good.flush();
  await peer.waitFor(1);
  assert.deepEqual(peer.entries[0]!.record, { who: "alice" });

  const bad = new ForwardSink({ port: peer.port, sharedKey: "s3cret", username: "alice", password: "nope" });
  t.after(() => bad.close({ timeoutMs: 100 }));
  bad.send("user.tag", { who: "mallory" });
  const [err] = (await once(bad, "serverError")) as [ForwardError];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.message, /username\/password mismatch/);
});

test("a server that demands a handshake from a sink without a shared key is reported as an auth failure", async (t) => {
  const peer = await startFluentServer({ security });
  t.after(() => peer.close());
  const sink = new ForwardSink({ port: peer.port, reconnect: { minDelayMs: 1000 } });
  t.after(() => sink.close({ timeoutMs: 100 }));
  sink.send("x", { a: 1 });
  const [err] = (await once(sink, "serverError")) as [ForwardError];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.message, /no sharedKey is configured/);
});

const certs = generateForwardCerts();

test("TLS: the sink verifies the server certificate against the given CA and delivers", async (t) => {
  const peer = await startFluentServer({ tlsOptions: { cert: certs.serverCert, key: certs.serverKey } });
  t.after(() => peer.close());
  const sink = new ForwardSink({ port: peer.port, tls: { ca: certs.ca }, requireAck: true });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const connected = once(sink, "connect");
  sink.send("tls.tag", { s: "x" }, 1_700_000_001_000);
  const [server] = (await connected) as [ServerInfo];
  assert.equal(server.tls, true);
  await sink.flush();
  await peer.waitFor(1);
  assert.deepEqual(peer.entries, [
    { tag: "tls.tag", time: { seconds: 1_700_000_001, nanoseconds: 0 }, record: { s: "x" } },
  ]);
});

test("TLS: a server certificate from an unknown CA is refused with FORWARD_CONNECT_FAILED", async (t) => {
  const peer = await startFluentServer({ tlsOptions: { cert: certs.serverCert, key: certs.serverKey } });
  t.after(() => peer.close());
  const sink = new ForwardSink({
    port: peer.port,
    tls: { ca: certs.otherCa },
    reconnect: { minDelayMs: 1000 },
  });
  t.after(() => sink.close({ timeoutMs: 100 }));
  sink.send("tls.tag", { s: "x" });
  const [err] = (await once(sink, "serverError")) as [ForwardError];
  assert.equal(err.code, "FORWARD_CONNECT_FAILED");
  assert.equal(peer.entries.length, 0);
});

test("mutual TLS: the client certificate is presented and accepted; without it the server refuses", async (t) => {
  const tlsOptions = {
    cert: certs.serverCert,
    key: certs.serverKey,
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
  };
  const peer = await startFluentServer({ tlsOptions, security });
  t.after(() => peer.close());
  const sink = new ForwardSink({
    port: peer.port,
    tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, servername: "localhost" },
    sharedKey: "s3cret",
    requireAck: true,
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  sink.send("mtls.tag", { n: 1 }, 1_700_000_002_000);
  await sink.flush();
  await peer.waitFor(1);
  assert.deepEqual(peer.entries, [
    { tag: "mtls.tag", time: { seconds: 1_700_000_002, nanoseconds: 0 }, record: { n: 1 } },
  ]);

  const anonymous = new ForwardSink({
    port: peer.port,
    tls: { ca: certs.ca },
    sharedKey: "s3cret",
    reconnect: { minDelayMs: 1000 },
  });
  t.after(() => anonymous.close({ timeoutMs: 100 }));
  anonymous.send("mtls.tag", { n: 2 });
  const [err] = (await once(anonymous, "serverError")) as [ForwardError];
  assert.match(err.code, /^FORWARD_(CONNECT_FAILED|CONNECTION_CLOSED)$/);
  assert.equal(peer.entries.length, 1);
});

test("TLS: a server that never completes the TLS handshake fails with FORWARD_CONNECT_TIMEOUT", async (t) => {
  const net = await import("node:net");
  const sockets = new Set<import("node:net").Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as import("node:net").AddressInfo).port;
  const sink = new ForwardSink({
    port,
    tls: { ca: certs.ca },
    connectTimeoutMs: 100,
    reconnect: { minDelayMs: 5000 },
  });
  t.after(() => sink.close({ timeoutMs: 10 }));
  sink.send("t", { a: 1 });
  const [err] = (await once(sink, "serverError")) as [ForwardError];
  assert.equal(err.code, "FORWARD_CONNECT_TIMEOUT");
  assert.match(err.message, /timed out after 100 ms/);
});
