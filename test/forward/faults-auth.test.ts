import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ForwardSink } from "../../src/forward/index.js";
import { msUntil, TestClock, until } from "../helpers/fake-time.js";
import { watch } from "../helpers/misbehaving-emit.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

test("a wrong shared key gives one FORWARD_AUTH_FAILED serverError with the server's reason, then backoff, no reconnect storm", async (t) => {
  const server = await forwardReceiver({ sharedKey: "the right key" });
  t.after(() => server.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: server.port,
    sharedKey: "a wrong key",
    requireAck: true,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const seen = watch(sink);
  const failed = once(sink, "serverError");
  for (let id = 0; id < 10; id++) sink.send("faults.app", { id });
  const [err] = (await failed) as [Error & { code: string; reason?: string }];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.reason ?? "", /shared_key mismatch/);

  const server0 = () => sink.stats().servers[0]!;
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const connections = server.connections;
    const delay = msUntil(server0().nextRetryAt);
    delays.push(delay);
    clock.tick(Math.max(0, delay - 1));
    assert.equal(server.connections, connections, `attempt ${attempt}: nothing before the backoff is over`);
    clock.tick(2);
    await until(() => server0().repeatedErrors === attempt, `attempt ${attempt} refused`);
  }
  // Backoff from 100 ms, doubling up to 1000 ms, with jitter (50-100 % of the step).
  const steps = [100, 200, 400, 800, 1000];
  delays.forEach((d, i) => assert.ok(d >= steps[i]! / 2 - 2 && d <= steps[i]!, `delay ${i + 1}: ${d} ms`));
  assert.equal(server.connections, 6, "one connection per attempt, no storm");
  assert.ok(server.authFailures >= 5, "every attempt was refused");
  assert.deepEqual(seen.codes, ["FORWARD_AUTH_FAILED"], "one serverError, not one per attempt");
  assert.equal(server0().fault, "FORWARD_AUTH_FAILED");
  assert.equal(server.events.length, 0);
  assert.deepEqual(seen.errors, []);
  const report = await sink.close({ timeoutMs: 0 });
  assert.equal(report.undeliveredEvents, 10);
});

test("a server that wants a shared key, a sink without one (acks off): nothing counts as sent, one FORWARD_AUTH_FAILED, growing backoff, all undelivered at close", async (t) => {
  const server = await forwardReceiver({ sharedKey: "the server's key" });
  t.after(() => server.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: server.port,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const seen = watch(sink);
  const failed = once(sink, "serverError");
  for (let id = 0; id < 31; id++) sink.send("faults.app", { id });
  void sink.flush();
  const [err] = (await failed) as [Error & { code: string; reason?: string }];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.message, /no sharedKey is configured/);

  const server0 = () => sink.stats().servers[0]!;
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 4; attempt++) {
    const delay = msUntil(server0().nextRetryAt);
    delays.push(delay);
    clock.tick(delay + 1);
    await until(() => server0().repeatedErrors === attempt, `attempt ${attempt} refused`);
  }
  const steps = [100, 200, 400, 800];
  delays.forEach((d, i) => assert.ok(d >= steps[i]! / 2 - 2 && d <= steps[i]!, `delay ${i + 1}: ${d} ms`));
  assert.deepEqual(seen.codes, ["FORWARD_AUTH_FAILED"], "reported once, not once per attempt");
  assert.equal(sink.stats().sent, 0, "nothing the server dropped counts as sent");
  assert.equal(server.events.length, 0);
  const report = await sink.close({ timeoutMs: 0 });
  assert.equal(report.written, 0);
  assert.equal(report.undeliveredEvents, 31);
  assert.equal(sink.stats().droppedBy.undelivered, 31);
});

test("without a shared key or acks, frames count as sent once handshakeGraceMs passed with no HELO", async (t) => {
  const server = await forwardReceiver();
  t.after(() => server.close());
  const clock = new TestClock();
  const sink = new ForwardSink({ port: server.port, handshakeGraceMs: 1000, clock });
  t.after(() => sink.close({ timeoutMs: 0 }));
  let flushed = false;
  for (let id = 0; id < 5; id++) sink.send("faults.app", { id });
  void sink.flush().then(() => (flushed = true));
  await until(() => server.events.length === 5, "the server took the events");
  clock.tick(999);
  await until(() => server.connections === 1, "still one connection");
  assert.equal(sink.stats().sent, 0, "not confirmed inside the grace");
  assert.equal(flushed, false);
  clock.tick(1);
  await until(() => flushed, "flush resolves once the grace ended quietly");
  assert.equal(sink.stats().sent, 5);
});

test("a port that is not a Forward input (HTTP): what it was sent comes back undelivered, one FORWARD_PROTOCOL_ERROR", async (t) => {
  const http = createServer((_req, res) => res.end("ok"));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  t.after(() => http.close());
  const sink = new ForwardSink({ port: (http.address() as AddressInfo).port });
  const seen = watch(sink);
  const failed = once(sink, "serverError");
  for (let id = 0; id < 7; id++) sink.send("faults.app", { id });
  void sink.flush();
  const [err] = (await failed) as [Error & { code: string }];
  assert.equal(err.code, "FORWARD_PROTOCOL_ERROR");
  assert.deepEqual(seen.codes, ["FORWARD_PROTOCOL_ERROR"]);
  assert.equal(sink.stats().sent, 0);
  const report = await sink.close({ timeoutMs: 0 });
  assert.equal(report.undeliveredEvents, 7);
});
