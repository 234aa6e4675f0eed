import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ForwardSink, type ForwardSinkOptions } from "../../src/index.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { freePort } from "../helpers/forward-receiver.js";
import { closeSink } from "./helpers/close.js";
import { SHARED_KEY, USER } from "./helpers/matrix.js";
import { skipWithoutPeers, startFluentBit, startFluentd, type Peer } from "./helpers/peers.js";

const WATCH_MS = 4000;
/** From 500 ms doubling (with jitter) at most 4 attempts fit in 4 s; anything above 6 would be a storm. */
const MAX_ATTEMPTS = 6;

interface Refusal {
  codes: string[];
  reasons: string[];
  logLines: number;
  undelivered: number;
}

/** Sends with wrong credentials for WATCH_MS and counts the sink's serverErrors and the server's log lines about it. */
async function refused(peer: Peer, options: ForwardSinkOptions, logPattern: RegExp): Promise<Refusal> {
  const countLog = () =>
    peer
      .readLog()
      .split("\n")
      .filter((l) => logPattern.test(l)).length;
  const before = countLog();
  const sink = new ForwardSink({
    host: "127.0.0.1",
    port: peer.port,
    requireAck: true,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    ...options,
  });
  const codes: string[] = [];
  const reasons: string[] = [];
  sink.on("serverError", (err) => {
    codes.push(err.code);
    reasons.push((err as { reason?: string }).reason ?? err.message);
  });
  for (let seq = 0; seq < 10; seq++) sink.send("interop.auth", { seq });
  await sleep(WATCH_MS);
  const { undelivered } = await closeSink(sink, 100);
  await sleep(300);
  return { codes, reasons, logLines: countLog() - before, undelivered };
}

function assertOneClearError(r: Refusal, reason: RegExp): void {
  assert.deepEqual(r.codes, ["FORWARD_AUTH_FAILED"], "one serverError, with the auth code");
  assert.match(r.reasons[0]!, reason);
  assert.ok(r.logLines >= 1, "the server saw the attempt and logged it");
  assert.ok(r.logLines <= MAX_ATTEMPTS, `${r.logLines} refusals logged by the server in ${WATCH_MS} ms`);
  assert.equal(r.undelivered, 10, "nothing was delivered, and the report says so");
}

/** The server's own log line for each refusal. */
const LOG = {
  fluentd: { key: /Shared key mismatch/, password: /Authentication failed/ },
  "fluent-bit": { key: /shared_key mismatch/, password: /user authentication is failed/ },
};

for (const server of ["fluentd", "fluent-bit"] as const) {
  describe(`wrong credentials on a real ${server}`, { skip: skipWithoutPeers() }, () => {
    let peer: Peer;
    let workdir: string;
    before(async () => {
      workdir = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-interop-auth-"));
      const options = {
        port: await freePort(),
        workdir,
        sharedKey: SHARED_KEY,
        users: [USER],
      };
      peer = server === "fluentd" ? await startFluentd(options) : await startFluentBit(options);
    });
    after(async () => {
      await peer?.stop();
      rmSync(workdir, { recursive: true, force: true });
    });

    test("a wrong shared key: one FORWARD_AUTH_FAILED, then backoff, no reconnect storm", async () => {
      const r = await refused(peer, { sharedKey: "not the key", ...USER }, LOG[server].key);
      console.log(`${server} wrong key: ${JSON.stringify(r)}`);
      assertOneClearError(r, /shared_key mismatch|shared key/);
    });

    test("a wrong password: one FORWARD_AUTH_FAILED, then backoff, no reconnect storm", async () => {
      const r = await refused(
        peer,
        { sharedKey: SHARED_KEY, username: USER.username, password: "wrong" },
        LOG[server].password,
      );
      console.log(`${server} wrong password: ${JSON.stringify(r)}`);
      assertOneClearError(r, /username\/password mismatch/);
    });

    test("no shared key, acks off: nothing counts as sent, one FORWARD_AUTH_FAILED, everything undelivered", async () => {
      const sink = new ForwardSink({ port: peer.port, reconnect: { minDelayMs: 500, maxDelayMs: 30_000 } });
      const codes: string[] = [];
      sink.on("serverError", (err) => codes.push(err.code));
      for (let seq = 0; seq < 31; seq++) sink.send("interop.nokey", { seq });
      void sink.flush();
      await sleep(WATCH_MS);
      const { sent, servers } = sink.stats();
      const report = await sink.close({ timeoutMs: 100 });
      console.log(`${server} no key: ${JSON.stringify({ codes, sent, failures: servers[0]!.failures })}`);
      assert.deepEqual(codes, ["FORWARD_AUTH_FAILED"], "reported once");
      assert.equal(sent, 0, "what the server dropped is not counted as sent");
      assert.ok(servers[0]!.failures <= MAX_ATTEMPTS, `${servers[0]!.failures} attempts in ${WATCH_MS} ms`);
      assert.equal(report.undeliveredEvents, 31);
      assert.equal(report.written, 0);
    });

    test("uwsgi-forward --once without --shared-key exits 1 and claims nothing was delivered or written", async (t) => {
      const uwsgi = await startCliUwsgi(t);
      const cli = startCli(t, [
        "--once",
        "--stats",
        uwsgi.stats,
        "--forward",
        `127.0.0.1:${peer.port}`,
        "--shape",
        "summary",
        "--interval",
        "200ms",
        "--shutdown-timeout",
        "3s",
      ]);
      const code = await cli.exited;
      const log = cli.stderr.join("\n");
      assert.equal(code, 1, log);
      assert.equal(
        cli.stderr.filter((l) => /FORWARD_AUTH_FAILED/.test(l) && /failing/.test(l)).length,
        1,
        log,
      );
      assert.doesNotMatch(log, /delivered everything|wrote everything/);
      // Waiting cannot mend a missing key: the command stops waiting at once instead of after --shutdown-timeout.
      assert.match(
        log,
        /could not be delivered: every server failed for good, so the shutdown did not wait; .*FORWARD_AUTH_FAILED/,
      );
    });
  });
}
