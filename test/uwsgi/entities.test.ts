import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_TAGS } from "../../src/uwsgi/options.js";
import { entityCounters } from "../../src/uwsgi/shapes/entities.js";
import { DocumentShaper } from "../helpers/uwsgi-shaper.js";
import { uwsgiSample } from "../helpers/uwsgi-samples.js";

type Doc = Record<string, unknown> & {
  pid: number;
  workers: (Record<string, unknown> & { apps: Record<string, number>[]; cores: Record<string, number>[] })[];
  sockets: Record<string, unknown>[];
  caches: Record<string, unknown>[];
  spoolers: Record<string, unknown>[];
  metrics: Record<string, { type: number; oid: string; value: number }>;
};

const ALL = ["socket", "app", "core", "cache", "spooler", "metric"] as const;
const sample = (name: string): Doc => JSON.parse(uwsgiSample(name).toString("utf8")) as Doc;
const records = DocumentShaper.records;
/** The rate a record must carry: exactly the source's arithmetic, Δcounter × 1000 / Δt. */
const rate = (before: number, after: number, ms: number): number => ((after - before) * 1000) / ms;

test("big-t0: one record per socket, app, core, cache and spooler, each with the document's values and labels", () => {
  const doc = sample("big-t0.json");
  const { items, dropped } = new DocumentShaper(ALL).shape(doc, 0);
  assert.equal(dropped, 0);
  const sockets = records({ items, dropped }, DEFAULT_TAGS.socket);
  assert.deepEqual(sockets, [
    {
      host: "h",
      target: "/s.sock",
      repaired: false,
      master_pid: 4835,
      name: "127.0.0.1:36881",
      proto: "uwsgi",
      queue: 0,
      max_queue: 100,
      shared: 0,
      can_offload: 0,
    },
  ]);
  const apps = records({ items, dropped }, DEFAULT_TAGS.app);
  assert.equal(apps.length, 16, "8 workers × 2 mountpoints");
  for (const r of apps) {
    const w = doc.workers.find((x) => x.id === r.worker_id);
    const app = w?.apps[r.app_id as number] as unknown as Record<string, unknown>;
    assert.deepEqual(r, {
      host: "h",
      target: "/s.sock",
      repaired: false,
      master_pid: 4835,
      worker_id: w?.id,
      app_id: app.id,
      modifier1: app.modifier1,
      mountpoint: app.mountpoint,
      startup_time: app.startup_time,
      requests: app.requests,
      exceptions: app.exceptions,
      chdir: app.chdir,
    });
  }
  assert.deepEqual([...new Set(apps.map((r) => r.mountpoint))], ["", "/api"]);
  const cores = records({ items, dropped }, DEFAULT_TAGS.core);
  assert.equal(cores.length, 32, "8 workers × 4 threads");
  for (const r of cores) {
    const core = doc.workers.find((x) => x.id === r.worker_id)?.cores[r.core_id as number];
    for (const field of ["requests", "static_requests", "routed_requests", "offloaded_requests"]) {
      assert.equal(r[field], core?.[field], `core ${String(r.worker_id)}/${String(r.core_id)} ${field}`);
    }
    assert.equal(r.write_errors, core?.write_errors);
    assert.equal(r.read_errors, core?.read_errors);
    assert.equal(r.in_request, core?.in_request);
    assert.equal("vars" in r || "req_info" in r, false, "never the request's variables");
  }
  assert.deepEqual(records({ items, dropped }, DEFAULT_TAGS.cache), [
    { host: "h", target: "/s.sock", repaired: false, master_pid: 4835, ...doc.caches[0] },
  ]);
  assert.deepEqual(records({ items, dropped }, DEFAULT_TAGS.spooler), [
    { host: "h", target: "/s.sock", repaired: false, master_pid: 4835, ...doc.spoolers[0] },
  ]);
  assert.deepEqual(records({ items, dropped }, DEFAULT_TAGS.metric), [], "no metrics subsystem: no record");
});

test("big-t0 then big-t1 2 s later: every app, core, cache and spooler counter has its rate, Δcounter / Δt, unrounded", () => {
  const [a, b] = [sample("big-t0.json"), sample("big-t1.json")];
  // Counters that moved by amounts whose rates are not multiples of 1/1000, to see no rounding.
  (b.caches[0] as Record<string, number>).hits = 7;
  (b.spoolers[0] as Record<string, number>).tasks = 1;
  const shaper = new DocumentShaper(ALL);
  const first = shaper.shape(a, 1000);
  for (const tag of [DEFAULT_TAGS.app, DEFAULT_TAGS.core, DEFAULT_TAGS.cache, DEFAULT_TAGS.spooler]) {
    for (const r of records(first, tag)) {
      assert.equal(r.interval_ms, undefined, tag);
      assert.equal(
        Object.keys(r).filter((k) => k.endsWith("_per_sec")).length,
        0,
        `${tag}: no rate on the first poll`,
      );
    }
  }
  const ms = 2999;
  const second = shaper.shape(b, 1000 + ms);
  const apps = records(second, DEFAULT_TAGS.app);
  for (const r of apps) {
    const i = (r.worker_id as number) - 1;
    const [before, after] = [a.workers[i]?.apps[r.app_id as number], b.workers[i]?.apps[r.app_id as number]];
    assert.equal(r.interval_ms, ms);
    assert.equal(r.requests_per_sec, rate(before?.requests ?? NaN, after?.requests ?? NaN, ms));
    assert.equal(r.exceptions_per_sec, rate(before?.exceptions ?? NaN, after?.exceptions ?? NaN, ms));
  }
  assert.equal(apps.find((r) => r.worker_id === 2 && r.app_id === 0)?.requests_per_sec, (63 * 1000) / ms);
  for (const r of records(second, DEFAULT_TAGS.core)) {
    const i = (r.worker_id as number) - 1;
    const [before, after] = [
      a.workers[i]?.cores[r.core_id as number],
      b.workers[i]?.cores[r.core_id as number],
    ];
    for (const c of entityCounters("core")) {
      assert.equal(r[`${c}_per_sec`], rate(before?.[c] ?? NaN, after?.[c] ?? NaN, ms), c);
    }
    assert.equal(r.in_request_per_sec, undefined, "a gauge has no rate");
  }
  const cache = records(second, DEFAULT_TAGS.cache)[0];
  assert.equal(cache?.hits_per_sec, 7000 / ms);
  assert.equal(cache?.miss_per_sec, 0);
  assert.equal(cache?.full_per_sec, 0);
  assert.equal(cache?.items_per_sec, undefined);
  const spooler = records(second, DEFAULT_TAGS.spooler)[0];
  assert.equal(spooler?.tasks_per_sec, 1000 / ms);
  assert.equal(spooler?.respawns_per_sec, 0);
  for (const r of records(second, DEFAULT_TAGS.socket))
    assert.equal(r.interval_ms, undefined, "sockets have no counters");
});

test("metrics: one record per metric, named and typed as uWSGI says, with a rate for counters only", () => {
  const a = sample("g_metrics_crons_daemons.json");
  const b = structuredClone(a);
  for (const metric of Object.values(b.metrics)) metric.value += 3;
  const shaper = new DocumentShaper(["metric"]);
  const first = records(shaper.shape(a, 0), DEFAULT_TAGS.metric);
  assert.equal(first.length, Object.keys(a.metrics).length);
  assert.ok(first.length >= 54, `${first.length} metrics`);
  const busy = first.find((r) => r.name === "core.busy_workers");
  assert.deepEqual(busy, {
    host: "h",
    target: "/s.sock",
    repaired: false,
    master_pid: a.pid,
    name: "core.busy_workers",
    type: "gauge",
    oid: "5.3",
    value: 2,
  });
  const types = new Set(first.map((r) => r.type));
  assert.deepEqual([...types].sort(), ["absolute", "alias", "counter", "gauge"]);
  const second = records(shaper.shape(b, 500), DEFAULT_TAGS.metric);
  for (const r of second) {
    assert.equal(r.interval_ms, 500);
    if (r.type === "counter") assert.equal(r.value_per_sec, 6, `${String(r.name)}`);
    else assert.equal(r.value_per_sec, undefined, `${String(r.name)} is a ${String(r.type)}`);
  }
});

test("a respawned worker's apps and cores, and a respawned spooler, have no rates for that interval; the others do", () => {
  const [a, b] = [sample("big-t0.json"), sample("big-t1.json")];
  (b.workers[1] as Record<string, unknown>).pid = 9999;
  (b.spoolers[0] as Record<string, unknown>).pid = 9998;
  const shaper = new DocumentShaper(["app", "core", "spooler", "worker"]);
  shaper.shape(a, 0);
  const second = shaper.shape(b, 2000);
  for (const tag of [DEFAULT_TAGS.app, DEFAULT_TAGS.core]) {
    for (const r of records(second, tag)) {
      if (r.worker_id === 2) assert.equal(r.requests_per_sec, undefined, `${tag} of the respawned worker`);
      else assert.equal(typeof r.requests_per_sec, "number", `${tag} of worker ${String(r.worker_id)}`);
    }
  }
  assert.equal(records(second, DEFAULT_TAGS.worker).find((w) => w.id === 2)?.respawned, true);
  assert.equal(records(second, DEFAULT_TAGS.spooler)[0]?.tasks_per_sec, undefined);
});

test("a SIGHUP reload (counters to zero, same master pid): no entity rate on the reset poll, rates again on the next", () => {
  const before = sample("d_big_before_sighup_reload.json");
  const after = sample("d_big_after_sighup_reload_counters_reset.json");
  assert.equal(before.pid, after.pid);
  const shaper = new DocumentShaper(["summary", "app", "core", "cache"]);
  shaper.shape(before, 0);
  const reset = shaper.shape(after, 1000);
  assert.equal(records(reset, DEFAULT_TAGS.summary)[0]?.reset, true);
  for (const tag of [DEFAULT_TAGS.app, DEFAULT_TAGS.core, DEFAULT_TAGS.cache]) {
    const rs = records(reset, tag);
    assert.ok(rs.length > 0, tag);
    for (const r of rs) {
      assert.deepEqual(
        Object.keys(r).filter((k) => k.endsWith("_per_sec")),
        [],
        `${tag}: no rate at the reset`,
      );
    }
  }
  const next = shaper.shape(after, 2000);
  for (const tag of [DEFAULT_TAGS.app, DEFAULT_TAGS.core, DEFAULT_TAGS.cache]) {
    for (const r of records(next, tag)) {
      const rates = Object.entries(r).filter(([k]) => k.endsWith("_per_sec"));
      assert.ok(rates.length > 0, `${tag} has rates after the reset`);
      for (const [k, v] of rates) assert.equal(v, 0, `${tag} ${k}`);
    }
  }
});
