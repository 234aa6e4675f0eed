import { cliTempDir } from "../helpers/cli-temp.js";
import type { TestContext } from "node:test";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import assert from "node:assert/strict";
import type { ForwardItem } from "../../src/item.js";
import { entityCounters } from "../../src/uwsgi/shapes/entities.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { startCli } from "../helpers/cli-process.js";
import { entityConfig, load, startUwsgi, type UwsgiInstance } from "../helpers/uwsgi-process.js";

// A real uWSGI with 2 workers × 2 threads, two mountpoints, a cache, a spooler and the metrics subsystem with a
// custom counter: every entity shape against the document of the same poll.

const ENTITIES = ["socket", "app", "core", "cache", "spooler", "metric"] as const;
type Rec = Record<string, unknown>;
type Doc = Rec & {
  pid: number;
  sockets: Rec[];
  caches: Rec[];
  spoolers: Rec[];
  metrics: Record<string, Rec>;
  workers: (Rec & { apps: Rec[]; cores: Rec[] })[];
};

async function entityUwsgi(t: TestContext): Promise<UwsgiInstance> {
  const dir = cliTempDir(t, "uwsgi-forward-test-");
  const u = await startUwsgi({ dir, processes: 2, extra: entityConfig(dir) });
  t.after(() => u.kill());
  return u;
}

const of = (items: ForwardItem[], tag: string): Rec[] =>
  items.filter((i) => i.tag === tag).map((i) => i.record);
const rawOf = (items: ForwardItem[]): Doc => of(items, "uwsgi.stats")[0] as Doc;
const rates = (r: Rec): string[] => Object.keys(r).filter((k) => k.endsWith("_per_sec"));

/** Every entity record of `items` against the raw document of the same poll, and its rates against `before`'s. */
function checkAgainstDocument(items: ForwardItem[], before: Doc | undefined): void {
  const doc = rawOf(items);
  const same = (record: Rec, from: Rec, fields: string[], where: string): void => {
    assert.equal(record.master_pid, doc.pid, where);
    for (const f of fields) assert.equal(record[f], from[f], `${where}.${f}`);
  };
  const rated = (record: Rec, now: Rec, then: Rec | undefined, counters: string[], where: string): void => {
    if (then === undefined) return assert.deepEqual(rates(record), [], where);
    for (const c of counters) {
      const expected: number =
        (((now[c] as number) - (then[c] as number)) * 1000) / (record.interval_ms as number);
      assert.equal(record[`${c}_per_sec`], expected, `${where}.${c}_per_sec`);
    }
  };
  const sockets = of(items, "uwsgi.socket");
  assert.equal(sockets.length, doc.sockets.length);
  sockets.forEach((r, i) =>
    same(
      r,
      doc.sockets[i] as Rec,
      ["name", "proto", "queue", "max_queue", "shared", "can_offload"],
      "socket",
    ),
  );
  const apps = of(items, "uwsgi.app");
  const cores = of(items, "uwsgi.core");
  assert.equal(
    apps.length,
    doc.workers.reduce((n, w) => n + w.apps.length, 0),
  );
  assert.equal(cores.length, 4, "2 workers × 2 threads");
  doc.workers.forEach((w, wi) => {
    const then = before?.workers[wi];
    for (const app of w.apps) {
      const r = apps.find((x) => x.worker_id === w.id && x.app_id === app.id) as Rec;
      same(r, app, ["mountpoint", "modifier1", "startup_time", "requests", "exceptions", "chdir"], "app");
      rated(
        r,
        app,
        then?.apps.find((a) => a.id === app.id),
        ["requests", "exceptions"],
        "app",
      );
    }
    for (const core of w.cores) {
      const r = cores.find((x) => x.worker_id === w.id && x.core_id === core.id) as Rec;
      const counters = entityCounters("core");
      same(r, core, [...counters, "in_request"], "core");
      rated(
        r,
        core,
        then?.cores.find((c) => c.id === core.id),
        counters,
        "core",
      );
    }
  });
  const cache = of(items, "uwsgi.cache");
  assert.equal(cache.length, 1);
  same(
    cache[0] as Rec,
    doc.caches[0] as Rec,
    ["name", "hash", "items", "hits", "miss", "full", "max_items"],
    "cache",
  );
  rated(cache[0] as Rec, doc.caches[0] as Rec, before?.caches[0], ["hits", "miss", "full"], "cache");
  const spooler = of(items, "uwsgi.spooler");
  assert.equal(spooler.length, 1);
  same(spooler[0] as Rec, doc.spoolers[0] as Rec, ["dir", "pid", "tasks", "respawns", "running"], "spooler");
  rated(spooler[0] as Rec, doc.spoolers[0] as Rec, before?.spoolers[0], ["tasks", "respawns"], "spooler");
  const metrics = of(items, "uwsgi.metric");
  assert.equal(metrics.length, Object.keys(doc.metrics).length);
  for (const r of metrics) {
    const m = doc.metrics[r.name as string] as Rec;
    assert.equal(r.value, m.value, `metric ${String(r.name)}`);
    assert.equal(r.type, ["counter", "gauge", "absolute", "alias"][m.type as number]);
    if (r.type === "counter")
      rated(r, m, before?.metrics[r.name as string], ["value"], `metric ${String(r.name)}`);
    else assert.equal(r.value_per_sec, undefined);
  }
}

/** A source polling `stats` for the raw document and every entity shape; stopped after the test. */
function entitySource(t: { after: (fn: () => Promise<void>) => void }, stats: string): UwsgiStatsSource {
  const source = new UwsgiStatsSource({ targets: [stats], shapes: ["raw", ...ENTITIES], timeoutMs: 5000 });
  t.after(() => source.stop());
  return source;
}

testWithUwsgi(
  "a real uWSGI: one record per socket, app, core, cache, spooler and metric, equal to the document, rates Δ/Δt",
  async (t) => {
    const u = await entityUwsgi(t);
    const source = entitySource(t, u.stats);
    const first = await source.poll();
    checkAgainstDocument(first, undefined);
    await load(u.http, 6, { path: "/api/" });
    await load(u.http, 4, { path: "/cache?k=a" });
    await load(u.http, 3, { path: "/metric" });
    await load(u.http, 2, { path: "/spool" });
    // The spooler runs its tasks on its own (every second at most): wait until it has, with a probe of its own.
    const probe = new UwsgiStatsSource({ targets: [u.stats], timeoutMs: 5000 });
    for (let i = 0; i < 60; i++) {
      const doc = rawOf(await probe.poll());
      if ((doc.spoolers[0]?.tasks as number) >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await probe.stop();
    const second = await source.poll();
    checkAgainstDocument(second, rawOf(first));
    const apps = of(second, "uwsgi.app");
    const perMount = (mount: string): number =>
      apps
        .filter((r) => r.mountpoint === mount)
        .reduce((n, r) => n + ((r.requests_per_sec as number) * (r.interval_ms as number)) / 1000, 0);
    assert.ok(Math.abs(perMount("/api") - 6) < 1e-9, `6 requests to /api: ${perMount("/api")}`);
    assert.ok(Math.abs(perMount("") - 9) < 1e-9, `9 requests to the default app: ${perMount("")}`);
    const cache = of(second, "uwsgi.cache")[0] as Rec;
    assert.deepEqual([cache.hits, cache.miss, cache.items], [3, 1, 1]);
    const orders = of(second, "uwsgi.metric").find((r) => r.name === "app.orders") as Rec;
    assert.equal(orders.value, 3);
    assert.equal(orders.type, "counter");
    assert.equal(orders.value_per_sec, 3000 / (orders.interval_ms as number));
    assert.equal(of(second, "uwsgi.spooler")[0]?.tasks, 2);
  },
);

testWithUwsgi(
  "a real uWSGI: a reload takes every entity's rates for one poll, a respawned worker's apps and cores theirs, never negative",
  async (t) => {
    const u = await entityUwsgi(t);
    const source = entitySource(t, u.stats);
    const resets: string[] = [];
    source.on("reset", (_target: string, info: { kind: string }) => resets.push(info.kind));
    const noNegative = (items: ForwardItem[]): void => {
      for (const { tag, record } of items)
        for (const k of rates(record))
          assert.ok((record[k] as number) >= 0, `${tag}.${k} = ${String(record[k])}`);
    };
    let previous = await source.poll();
    await load(u.http, 10);
    previous = await source.poll();
    process.kill(u.child.pid as number, "SIGHUP");
    let reset: ForwardItem[] | undefined;
    // A graceful reload waits for busy workers: up to a minute of polls before it shows.
    for (let i = 0; i < 1200 && reset === undefined; i++) {
      const items = await source.poll();
      noNegative(items);
      if (resets.length > 0) reset = items;
      else await new Promise((r) => setTimeout(r, 50));
    }
    const log = (): string =>
      u
        .log()
        .split("\n")
        .filter((l) => !l.startsWith("[pid"))
        .slice(-30)
        .join("\n");
    assert.deepEqual(resets, ["reload"], log());
    for (const tag of ["uwsgi.app", "uwsgi.core", "uwsgi.cache", "uwsgi.spooler", "uwsgi.metric"]) {
      for (const r of of(reset ?? [], tag))
        assert.deepEqual(rates(r), [], `${tag}: no rate on the reload's poll`);
    }
    // After the reload the workers come back one after the other: poll until every entity has its rates again.
    for (let i = 0; i < 100; i++) {
      previous = await source.poll();
      noNegative(previous);
      if (
        of(previous, "uwsgi.app").length === 4 &&
        of(previous, "uwsgi.app").every((r) => rates(r).length > 0)
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const tag of ["uwsgi.app", "uwsgi.core", "uwsgi.cache"]) {
      assert.ok(
        of(previous, tag).every((r) => rates(r).length > 0),
        `${tag} has rates again`,
      );
    }
    await load(u.http, 10);
    const victim = rawOf(previous).workers[0] as Rec;
    process.kill(victim.pid as number, "SIGKILL");
    let sawRespawn = false;
    for (let i = 0; i < 100 && !sawRespawn; i++) {
      const items = await source.poll();
      noNegative(items);
      const now = rawOf(items).workers.find((w) => w.id === victim.id) as Rec;
      const then = rawOf(previous).workers.find((w) => w.id === victim.id) as Rec;
      if (now.pid !== then.pid) {
        for (const tag of ["uwsgi.app", "uwsgi.core"]) {
          for (const r of of(items, tag).filter((x) => x.worker_id === victim.id)) {
            assert.deepEqual(rates(r), [], `${tag} of the respawned worker`);
          }
          for (const r of of(items, tag).filter((x) => x.worker_id !== victim.id)) {
            assert.ok(rates(r).length > 0, `${tag} of the other worker keeps its rates`);
          }
        }
        sawRespawn = (now.pid as number) > 0;
      }
      previous = items;
      if (!sawRespawn) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(sawRespawn, `the worker was respawned:\n${log()}`);
  },
);

testWithUwsgi(
  "uwsgi-forward --stdout --once --shape socket,app,core,cache,spooler,metric prints every entity of a real uWSGI, with rates",
  async (t) => {
    const u = await entityUwsgi(t);
    await load(u.http, 4, { path: "/api/" });
    const cli = startCli(t, [
      "--stdout",
      "--once",
      "--stats",
      u.stats,
      "--shape",
      ENTITIES.join(","),
      "--interval",
      "300ms",
    ]);
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const lines = cli.stdout
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { tag: string; record: Rec });
    const count = (tag: string): number => lines.filter((l) => l.tag === tag).length;
    assert.equal(count("uwsgi.socket"), 1);
    assert.equal(count("uwsgi.app"), 4, "2 workers × 2 mountpoints");
    assert.equal(count("uwsgi.core"), 4, "2 workers × 2 threads");
    assert.equal(count("uwsgi.cache"), 1);
    assert.equal(count("uwsgi.spooler"), 1);
    assert.ok(count("uwsgi.metric") >= 54, `${count("uwsgi.metric")} metrics`);
    const api = lines.filter((l) => l.tag === "uwsgi.app" && l.record.mountpoint === "/api");
    assert.equal(
      api.reduce((n, l) => n + (l.record.requests as number), 0),
      4,
    );
    for (const l of lines.filter((x) => x.tag === "uwsgi.app")) {
      assert.equal(typeof l.record.requests_per_sec, "number", "--once polls twice: the records carry rates");
      assert.equal(typeof l.record.host, "string");
    }
  },
);
