import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { ForwardSink } from "../../src/index.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { clientPemFiles } from "../helpers/forward-certs.js";
import { freePort } from "../helpers/free-port.js";
import { closeSink } from "./helpers/close.js";
import { certFiles, type CertFiles } from "./helpers/matrix.js";
import {
  peerTempDir,
  readEvents,
  settledEvents,
  settledOutput,
  skipWithoutPeers,
  startFluentBit,
  startFluentd,
  waitForEvents,
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

test(
  "the sidecar picks up a renewed CA and client certificate, written in place, for its next connection to a redeployed Fluentd: no signal, nothing lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const renewed = certFiles();
    t.after(() => rmSync(renewed.dir, { recursive: true, force: true }));
    const dir = peerTempDir(t);
    const client = clientPemFiles(dir, certs);
    const port = await freePort();
    const out = path.join(dir, "events.jsonl");
    const fluentd = (c: CertFiles, workdir: string) =>
      startFluentd({
        port,
        workdir,
        out,
        tlsCert: c.serverCertFile,
        tlsKey: c.serverKeyFile,
        clientCa: c.caFile,
      });
    let server = await fluentd(certs, path.join(dir, "first"));
    t.after(() => server.stop());
    const uwsgi = await startCliUwsgi(t);
    const cli = startCli(t, [
      "--stats",
      uwsgi.stats,
      "--forward",
      `127.0.0.1:${port}`,
      "--tls-ca",
      client.caFile,
      "--tls-cert",
      client.certFile,
      "--tls-key",
      client.keyFile,
      "--require-ack",
      "--interval",
      "200ms",
    ]);
    await waitForEvents(out, (events) => events.length >= 3);

    // Mid-stream: the CA and every certificate are replaced; the server comes back with the new ones.
    client.renew(renewed);
    await server.stop();
    const beforeRestart = readEvents(out).length;
    server = await fluentd(renewed, path.join(dir, "second"));
    await waitForEvents(out, (events) => events.length >= beforeRestart + 3);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const stopped = cli.stderr.find((l) => /stopped: delivered everything/.test(l)) ?? cli.stderr.join("\n");
    const [, sent] = /\((\d+) events sent/.exec(stopped) ?? [];
    const events = await settledEvents(out, 1000);
    const health = events.filter((e) => e._tag === "uwsgi.health").at(-1);
    assert.equal(health?.dropped, 0);
    assert.ok(events.length >= Number(sent), `${events.length} events arrived of ${sent} acknowledged`);
    assert.ok(
      events.length - Number(sent) <= Number(health?.retried ?? 0),
      "duplicates are at most what was re-sent",
    );
    assert.ok(
      !cli.stderr.some((l) => /FORWARD_TLS_FILES|new forward settings/.test(l)),
      cli.stderr.join("\n"),
    );
  },
);
