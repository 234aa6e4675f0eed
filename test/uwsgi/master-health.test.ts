import assert from "node:assert/strict";
import { pipeline } from "node:stream/promises";
import { ForwardSink } from "../../src/index.js";
import type { ForwardItem } from "../../src/item.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { ForwardReceiver } from "../helpers/forward-receiver.js";
import { get, startUwsgi, type UwsgiInstance } from "../helpers/uwsgi-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { rmSync } from "node:fs";

const SECRETS = {
  authorization: "Bearer auth-secret-4f9a",
  cookie: "sid=cookie-secret-77c1",
  "x-api-key": "apikey-secret-b02e",
  "x-auth-token": "token-secret-9d3c",
};
const QUERY_SECRET = "qs-secret-51aa";
const ALL_SECRETS = [
  "auth-secret-4f9a",
  "cookie-secret-77c1",
  "apikey-secret-b02e",
  "token-secret-9d3c",
  QUERY_SECRET,
];

async function started(t: { after: (fn: () => unknown) => void }, instance: Promise<UwsgiInstance>) {
  const u = await instance;
  t.after(async () => {
    await u.kill();
    rmSync(u.dir, { recursive: true, force: true });
  });
  return u;
}

function busyVars(record: Record<string, unknown>): string[] | undefined {
  for (const w of (record.workers as { cores?: { in_request: number; vars?: string[] }[] }[] | undefined) ??
    []) {
    for (const core of w.cores ?? [])
      if (core.in_request === 1 && (core.vars?.length ?? 0) > 0) return core.vars;
  }
  return undefined;
}

testWithUwsgi(
  "no secret of a real in-flight request reaches a ForwardSink receiver; 'keep' would have sent them, 'drop' sends no vars",
  async (t) => {
    const u = await started(t, startUwsgi({ processes: 1 }));
    const receiver = await ForwardReceiver.start();
    t.after(() => receiver.close());
    const inflight = get(u.http, `/slow?s=3&token=${QUERY_SECRET}`, SECRETS);

    const keep = new UwsgiStatsSource({ targets: [u.stats], vars: "keep", timeoutMs: 5000 });
    const drop = new UwsgiStatsSource({
      timeoutMs: 5000,
      targets: [u.stats],
      vars: "drop",
      shapes: ["raw", "flat"],
    });
    let kept: string[] | undefined;
    for (let round = 0; round < 100 && !kept; round++) {
      kept = busyVars((await keep.poll())[0]?.record ?? {});
      if (!kept) await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(kept, "the request was seen in flight");
    for (const secret of ALL_SECRETS)
      assert.ok(
        kept.some((v) => v.includes(secret)),
        `"keep" shows ${secret}`,
      );
    const dropped = await drop.poll();
    assert.ok(!JSON.stringify(dropped).includes('"vars"'));
    assert.ok(!Object.keys(dropped[1]?.record ?? {}).some((k) => k.includes("vars")));
    await keep.stop();
    await drop.stop();

    const source = new UwsgiStatsSource({
      targets: [u.stats],
      intervalMs: 50,
      timeoutMs: 5000,
      shapes: ["raw", "summary", "worker", "flat"],
    });
    const sink = new ForwardSink({ port: receiver.port, batch: { maxDelayMs: 10 } });
    const seen: ForwardItem[] = [];
    source.on("record", (item: ForwardItem) => {
      seen.push(item);
      if (item.tag === "uwsgi.stats" && busyVars(item.record)) void source.stop();
    });
    await pipeline(source, sink);
    await receiver.waitForEvents(seen.length);
    t.after(() => sink.close({ timeoutMs: 1000 }));
    const delivered = JSON.stringify(receiver.events.map((e) => [e.tag, e.record]));
    assert.ok(receiver.events.length >= 4, `events received: ${receiver.events.length}`);
    const raw = receiver.events.find((e) => e.tag === "uwsgi.stats" && busyVars(e.record));
    assert.ok(raw, "the receiver got the in-flight request's vars");
    const vars = busyVars(raw.record) as string[];
    assert.ok(vars.includes("HTTP_AUTHORIZATION=[REDACTED]"));
    assert.ok(vars.includes("HTTP_COOKIE=[REDACTED]"));
    assert.ok(vars.includes("HTTP_X_API_KEY=[REDACTED]"));
    assert.ok(vars.includes("QUERY_STRING=[REDACTED]"));
    assert.ok(vars.includes("PATH_INFO=/slow"));
    assert.ok(delivered.includes("workers_0_cores_0_vars_"), "flat records carried the vars too");
    for (const secret of ALL_SECRETS)
      assert.ok(!delivered.includes(secret), `${secret} reached the receiver`);
    for (const secret of ALL_SECRETS) assert.ok(!JSON.stringify(seen).includes(secret));
    assert.equal(await inflight, 200);
  },
);

testWithUwsgi(
  "a killed worker is respawned while a source polls its stats-http master every 20 ms, and no poll fails",
  async (t) => {
    const u = await started(t, startUwsgi({ processes: 1, stats: "http" }));
    const source = new UwsgiStatsSource({
      targets: [u.stats],
      intervalMs: 20,
      timeoutMs: 5000,
      shapes: ["worker"],
    });
    const errors: unknown[] = [];
    source.on("targetError", (err: Error) => errors.push(err));
    const first = (await source.poll())[0]?.record as Record<string, unknown>;
    const oldPid = first.pid as number;
    let killed = false;
    let newPid = 0;
    source.on("record", (item: ForwardItem) => {
      if (item.tag !== "uwsgi.worker" || !killed || newPid !== 0) return;
      if (item.record.pid !== oldPid && (item.record.pid as number) > 0) {
        newPid = item.record.pid as number;
        void source.stop();
      }
    });
    source.on("poll", () => {
      if (!killed) {
        killed = true;
        process.kill(oldPid, "SIGKILL");
      }
    });
    source.start();
    source.resume();
    await new Promise((resolve) => source.once("end", resolve));
    assert.notEqual(newPid, 0);
    assert.deepEqual(errors, []);
    // A silent stats-http client stalls the master (4 s) and a reader that stops reading blocks it as long: this
    // source reads every answer at once, so the master respawns the worker between polls that all succeed.
    assert.match(u.log(), new RegExp(`Respawned uWSGI worker 1 \\(new pid: ${newPid}\\)`));
  },
);
