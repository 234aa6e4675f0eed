import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ForwardSink, tlsFiles, type ForwardError } from "../../src/forward/index.js";
import { clientPemFiles, generateForwardCerts, type ForwardCerts } from "../helpers/forward-certs.js";
import { startFluentServer, type FluentPeer } from "../helpers/forward-fluent.js";

/** A FluentServer that wants a client certificate signed by `certs.ca`, and shows its own signed by it too. */
function mutualTlsServer(certs: ForwardCerts, port = 0): Promise<FluentPeer> {
  return startFluentServer({
    listenOptions: { port, host: "127.0.0.1" },
    tlsOptions: {
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
  });
}

function pemDir(t: { after: (fn: () => void) => void }, certs: ForwardCerts) {
  const dir = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-tls-files-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = clientPemFiles(dir, certs);
  return { files, write: files.renew };
}

const before = generateForwardCerts();
const renewed = generateForwardCerts();

test("tlsFiles: a CA and client certificate renewed in place serve the next connection; nothing is lost or sent twice", async (t) => {
  const { files, write } = pemDir(t, before);
  let peer = await mutualTlsServer(before);
  const port = peer.port;
  t.after(() => peer.close());
  const sink = new ForwardSink({
    port,
    tls: tlsFiles({ ...files, servername: "localhost" }),
    requireAck: true,
    reconnect: { minDelayMs: 20, maxDelayMs: 100 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  for (let n = 0; n < 10; n++) sink.send("rotate.tag", { n });
  await sink.flush();

  // The server is redeployed with certificates from a new CA; the client's files are renewed meanwhile.
  await peer.close();
  write(renewed);
  for (let n = 10; n < 20; n++) sink.send("rotate.tag", { n });
  const delivered = peer.entries.map((e) => e.record.n);
  peer = await mutualTlsServer(renewed, port);
  await sink.flush();
  await peer.waitFor(10);
  assert.deepEqual(delivered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(
    peer.entries.map((e) => e.record.n),
    [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
  );
  assert.equal(sink.stats().retried, 0, "nothing was sent twice");
});

test("tlsFiles: files caught half-way through a renewal are reported once and the ones that worked stay in use", async (t) => {
  const { files } = pemDir(t, before);
  const peer = await mutualTlsServer(before);
  t.after(() => peer.close());
  const errors: ForwardError[] = [];
  const source = tlsFiles({ ...files, servername: "localhost", onError: (err) => errors.push(err) });
  writeFileSync(files.certFile, renewed.clientCert); // the new certificate, with the old key still in place
  const sink = new ForwardSink({ port: peer.port, tls: source, requireAck: true });
  t.after(() => sink.close({ timeoutMs: 500 }));
  sink.send("rotate.tag", { n: 1 });
  await sink.flush();
  await peer.waitFor(1);
  source();
  assert.deepEqual(
    errors.map((e) => e.code),
    ["FORWARD_TLS_FILES"],
  );
  assert.match(errors[0]!.message, /cannot be used/);
});

test("tlsFiles: files that cannot be used at all, or options of the wrong kind, are refused at the call", (t) => {
  const { files } = pemDir(t, before);
  writeFileSync(files.caFile, "not a certificate");
  assert.throws(() => tlsFiles({ caFile: files.caFile }), { code: "FORWARD_TLS_FILES" });
  assert.throws(() => tlsFiles({ caFile: path.join(tmpdir(), "no-such-ca.pem") }), {
    code: "FORWARD_TLS_FILES",
  });
  assert.throws(() => tlsFiles({ caFile: "/dev/zero" }), {
    code: "FORWARD_TLS_FILES",
    message: /not a regular file/,
  });
  assert.throws(() => tlsFiles({ certFile: files.certFile }), { code: "INVALID_OPTION", message: /keyFile/ });
  assert.throws(() => tlsFiles({ caFile: 7 as unknown as string }), { code: "INVALID_OPTION" });
  assert.deepEqual(
    JSON.parse(JSON.stringify(tlsFiles({ certFile: files.certFile, keyFile: files.keyFile }))),
    {
      certFile: files.certFile,
      keyFile: files.keyFile,
    },
  );
});
