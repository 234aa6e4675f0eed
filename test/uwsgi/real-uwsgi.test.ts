import assert from "node:assert/strict";
import path from "node:path";
import { mkdirSync, rmSync } from "node:fs";
import type { ForwardItem } from "../../src/item.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { load, startUwsgi, type UwsgiInstance } from "../helpers/uwsgi-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { cliTempDir } from "../helpers/cli-temp.js";

const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

function byTag(items: ForwardItem[], tag: string): Record<string, unknown>[] {
  return items.filter((i) => i.tag === tag).map((i) => i.record);
}

function assertNoNegativeRates(items: ForwardItem[]): void {
  for (const item of items) {
    for (const [key, value] of Object.entries(item.record)) {
      if (key.endsWith("_per_sec") || key === "response_time_us") {
        assert.ok(typeof value === "number" && value >= 0, `${item.tag} ${key}=${String(value)}`);
      }
    }
  }
}

async function started(t: { after: (fn: () => unknown) => void }, instance: Promise<UwsgiInstance>) {
  const u = await instance;
  t.after(async () => {
    await u.kill();
    rmSync(u.dir, { recursive: true, force: true });
  });
  return u;
}

testWithUwsgi(
  "reads real uWSGI stats over a unix socket, TCP and stats-http, every record carrying its target",
  async (t) => {
    const [unix, tcp, http] = await Promise.all([
      started(t, startUwsgi({ stats: "unix" })),
      started(t, startUwsgi({ stats: "tcp" })),
      started(t, startUwsgi({ stats: "http" })),
    ]);
    const source = new UwsgiStatsSource({
      targets: [unix.stats, `unix://${unix.stats}`, tcp.stats, `tcp://${tcp.stats}`, http.stats],
      shapes: ["raw", "summary", "worker", "flat"],
      timeoutMs: 5000,
    });
    t.after(() => source.stop());
    const items = await source.poll();
    assert.deepEqual(byTag(items, "uwsgi.error"), []);
    const targets = byTag(items, "uwsgi.stats").map((r) => r.target);
    assert.deepEqual(targets.sort(), [unix.stats, tcp.stats, http.stats].sort());
    for (const r of byTag(items, "uwsgi.stats")) {
      assert.equal(r.repaired, false);
      assert.equal((r.workers as unknown[]).length, 1);
      assert.equal(r.version, "2.0.21-debian");
    }
    for (const tag of ["uwsgi.summary", "uwsgi.worker", "uwsgi.flat"]) {
      const records = byTag(items, tag);
      assert.equal(records.length, 3, tag);
      for (const r of records) for (const key of Object.keys(r)) assert.match(key, KEY, `${tag}.${key}`);
    }
    for (const item of items) assert.ok(typeof item.time === "number" && item.time > 1.7e12);
  },
);

testWithUwsgi(
  "under load, counters move and summary and worker records carry per-second rates and the interval's mean response time",
  async (t) => {
    const u = await started(t, startUwsgi({ processes: 2 }));
    const source = new UwsgiStatsSource({
      targets: [u.stats],
      shapes: ["summary", "worker"],
      timeoutMs: 5000,
    });
    t.after(() => source.stop());
    const first = await source.poll();
    assert.equal(byTag(first, "uwsgi.summary")[0]?.requests_per_sec, undefined);
    await load(u.http, 60, { parallel: 4 });
    const second = await source.poll();
    assertNoNegativeRates(second);
    const s = byTag(second, "uwsgi.summary")[0] as Record<string, number>;
    assert.equal(s.requests, 60);
    assert.ok((s.requests_per_sec ?? 0) > 0);
    assert.ok((s.tx_per_sec ?? 0) > 0);
    assert.ok((s.response_time_us ?? 0) > 0);
    assert.ok((s.interval_ms ?? 0) > 0);
    assert.equal(typeof s.avg_rt_max, "number");
    assert.equal(typeof s.avg_rt_weighted, "number");
    assert.equal(s.workers, 2);
    const workers = byTag(second, "uwsgi.worker");
    assert.equal(workers.length, 2);
    const busiest = workers.reduce((a, b) => ((a.requests as number) > (b.requests as number) ? a : b));
    assert.ok((busiest.requests_per_sec as number) > 0, `${JSON.stringify(workers)}\n${u.log()}`);
    assert.ok((busiest.response_time_us as number) > 0);
    const third = await source.poll();
    const idle = byTag(third, "uwsgi.summary")[0] as Record<string, number>;
    assert.equal(idle.requests_per_sec, 0);
    assert.equal(idle.response_time_us, undefined, "no request finished: no mean response time");
  },
);

testWithUwsgi(
  "workers recycled by max-requests get no rates for the interval of their respawn, and no rate is ever negative",
  async (t) => {
    const u = await started(
      t,
      startUwsgi({ processes: 1, extra: ["max-requests = 5", "min-worker-lifetime = 1"] }),
    );
    const source = new UwsgiStatsSource({
      targets: [u.stats],
      shapes: ["summary", "worker"],
      timeoutMs: 5000,
    });
    t.after(() => source.stop());
    const pid0 = byTag(await source.poll(), "uwsgi.worker")[0]?.pid;
    let respawned: Record<string, unknown> | undefined;
    for (let round = 0; round < 40 && !respawned; round++) {
      await load(u.http, 6, { parallel: 1 });
      const items = await source.poll();
      assertNoNegativeRates(items);
      respawned = byTag(items, "uwsgi.worker").find((w) => w.respawned === true);
      if (!respawned) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(respawned, "the worker was recycled");
    assert.notEqual(respawned.pid, pid0);
    assert.equal(respawned.requests_per_sec, undefined);
    assert.ok((respawned.respawn_count as number) >= 2);
    // The new worker may be recycled in turn (it may have served 5 of the last round's requests, and goes once it has
    // lived 1 s): every poll in which the pid changed again has no rate; the first in which it did not has one.
    let next: Record<string, unknown> | undefined;
    for (let poll = 0; poll < 20; poll++) {
      const items = await source.poll();
      assertNoNegativeRates(items);
      next = byTag(items, "uwsgi.worker")[0];
      if (next?.respawned === false) break;
      assert.equal(next?.requests_per_sec, undefined, "a poll with a pid change has no rate");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(next?.respawned, false);
    assert.equal(typeof next?.requests_per_sec, "number");
  },
);

testWithUwsgi(
  "a SIGHUP graceful reload (same master pid, counters to zero) is reported once as a reset, without negative rates",
  async (t) => {
    const u = await started(t, startUwsgi({ processes: 1 }));
    const source = new UwsgiStatsSource({
      targets: [u.stats],
      shapes: ["summary", "worker"],
      timeoutMs: 5000,
    });
    t.after(() => source.stop());
    const resets: unknown[] = [];
    source.on("reset", (target: string, info: unknown) => resets.push([target, info]));
    await load(u.http, 20);
    const before = byTag(await source.poll(), "uwsgi.summary")[0] as Record<string, number>;
    assert.equal(before.requests, 20);
    process.kill(u.child.pid as number, "SIGHUP");
    const summaries: Record<string, unknown>[] = [];
    for (let round = 0; round < 100 && resets.length === 0; round++) {
      const items = await source.poll();
      assertNoNegativeRates(items);
      summaries.push(...byTag(items, "uwsgi.summary"));
      if (resets.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    for (let round = 0; round < 3; round++) {
      const items = await source.poll();
      assertNoNegativeRates(items);
      summaries.push(...byTag(items, "uwsgi.summary"));
    }
    assert.deepEqual(resets, [[u.stats, { kind: "reload", pid: u.child.pid }]]);
    assert.equal(summaries.filter((s) => s.reset === true).length, 1);
    const reset = summaries.find((s) => s.reset === true) as Record<string, unknown>;
    assert.equal(reset.pid, before.pid);
    assert.equal(reset.requests_per_sec, undefined);
    assert.equal(summaries.at(-1)?.requests_per_sec, 0);
  },
);

testWithUwsgi(
  "a uWSGI run from a directory whose name holds a quote and a backslash is read by the repair pass, numbers intact",
  async (t) => {
    const parent = cliTempDir(t);
    const dir = path.join(parent, `it's "quoted" \\ dir`);
    mkdirSync(dir);
    const u = await started(t, startUwsgi({ dir, processes: 1 }));
    await load(u.http, 7);
    const source = new UwsgiStatsSource({
      timeoutMs: 5000,
      targets: [u.stats],
      shapes: ["raw", "summary", "flat"],
    });
    t.after(() => source.stop());
    const items = await source.poll();
    assert.deepEqual(byTag(items, "uwsgi.error"), []);
    const raw = byTag(items, "uwsgi.stats")[0] as Record<string, unknown>;
    assert.equal(raw.repaired, true);
    assert.equal(raw.cwd, dir);
    assert.equal(raw.pid, u.child.pid);
    const summary = byTag(items, "uwsgi.summary")[0] as Record<string, unknown>;
    assert.equal(summary.repaired, true);
    assert.equal(summary.requests, 7);
    assert.equal(byTag(items, "uwsgi.flat")[0]?.cwd, dir);
  },
);
