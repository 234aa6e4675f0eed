import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { ForwardSink } from "../../src/index.js";
import { freePort } from "../helpers/forward-receiver.js";
import { closeSink } from "./helpers/close.js";
import { certFiles, type CertFiles } from "./helpers/matrix.js";
import {
  peerTempDir,
  settledEvents,
  settledOutput,
  skipWithoutPeers,
  startFluentBit,
  startFluentd,
} from "./helpers/peers.js";

let certs: CertFiles;
before(() => {
  if (!skipWithoutPeers()) certs = certFiles();
});
after(() => {
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

/** A sink that verifies the server but presents no client certificate. */
function sinkWithoutClientCert(port: number) {
  const sink = new ForwardSink({
    host: "127.0.0.1",
    port,
    tls: { ca: certs.ca },
    requireAck: true,
    connectTimeoutMs: 3000,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
  });
  const codes: string[] = [];
  sink.on("serverError", (err) => codes.push(err.code));
  sink.send("interop.mtls.nocert", { seq: 0 });
  return { sink, codes };
}

test(
  "Fluentd with client_cert_auth refuses a client without a certificate: one FORWARD_CONNECT_FAILED, nothing delivered",
  { skip: skipWithoutPeers() },
  async (t) => {
    const port = await freePort();
    const tls = { tlsCert: certs.serverCertFile, tlsKey: certs.serverKeyFile, clientCa: certs.caFile };
    const fluentd = await startFluentd({ port, workdir: peerTempDir(t), ...tls });
    t.after(() => fluentd.stop());
    const { sink, codes } = sinkWithoutClientCert(port);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const { undelivered } = await closeSink(sink, 100);
    assert.deepEqual(codes, ["FORWARD_CONNECT_FAILED"]);
    assert.equal(undelivered, 1);
    assert.match(fluentd.readLog(), /peer did not return a certificate/);
    assert.equal((await settledEvents(fluentd.out, 500)).length, 0);
  },
);

test(
  "Fluent Bit with tls.verify on and a CA accepts a client without a certificate: it does not enforce mutual TLS",
  { skip: skipWithoutPeers() },
  async (t) => {
    const port = await freePort();
    const tls = { tlsCert: certs.serverCertFile, tlsKey: certs.serverKeyFile, clientCa: certs.caFile };
    const fluentBit = await startFluentBit({ port, workdir: peerTempDir(t), ...tls });
    t.after(() => fluentBit.stop());
    const { sink, codes } = sinkWithoutClientCert(port);
    const { undelivered } = await closeSink(sink, 10_000);
    assert.deepEqual(codes, []);
    assert.equal(undelivered, 0);
    const events = await settledOutput([fluentBit.out], 1, 2500);
    assert.deepEqual(
      events.map((e) => [e._tag, e.seq]),
      [["interop.mtls.nocert", 0]],
    );
  },
);
