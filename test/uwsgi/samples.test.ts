import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "../../src/uwsgi/parse.js";
import { RateTracker } from "../../src/uwsgi/rates.js";
import { applyVarsPolicy } from "../../src/uwsgi/redact.js";
import { emperorRecord } from "../../src/uwsgi/shapes/emperor.js";
import { isEmperorDocument } from "../../src/uwsgi/shapes/fields.js";
import { flatRecord } from "../../src/uwsgi/shapes/flat.js";
import { rawRecord } from "../../src/uwsgi/shapes/raw.js";
import { summaryRecord } from "../../src/uwsgi/shapes/summary.js";
import { workerRecords } from "../../src/uwsgi/shapes/worker.js";
import { TypeRegistry } from "../../src/uwsgi/keys.js";
import { UWSGI_SAMPLES } from "../helpers/uwsgi-samples.js";

const samples = readdirSync(UWSGI_SAMPLES).filter((f) => f.endsWith(".json"));
const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

function load(name: string): Record<string, unknown> {
  return parseDocument(name, readFileSync(path.join(UWSGI_SAMPLES, name))).doc;
}

function assertFlatAndTyped(record: Record<string, unknown>, where: string): void {
  for (const [key, value] of Object.entries(record)) {
    assert.match(key, KEY, `${where}: key ${JSON.stringify(key)}`);
    assert.ok(
      ["number", "string", "boolean"].includes(typeof value),
      `${where}: ${key} is ${typeof value}, expected a scalar`,
    );
    if (typeof value === "number") assert.ok(Number.isFinite(value), `${where}: ${key} is not finite`);
  }
}

test("there are samples to check", () => {
  assert.ok(samples.length >= 17, `found ${samples.length} samples in ${UWSGI_SAMPLES}`);
});

test("every sample parses exactly as JSON.parse reads it, unrepaired", () => {
  for (const name of samples) {
    const bytes = readFileSync(path.join(UWSGI_SAMPLES, name));
    const parsed = parseDocument(name, bytes);
    assert.equal(parsed.repaired, false, name);
    assert.deepEqual(parsed.doc, JSON.parse(bytes.toString("utf8")), name);
  }
});

test("every stats sample gives summary, worker and flat records with Norikra-safe keys and scalar values", () => {
  for (const name of samples) {
    const doc = load(name);
    if (isEmperorDocument(doc)) continue;
    applyVarsPolicy(doc, "redact");
    const rates = new RateTracker().update(doc, 0);
    const summary = summaryRecord(doc, "/s.sock", false, rates);
    assertFlatAndTyped(summary, `${name} summary`);
    assert.equal(summary.target, "/s.sock");
    assert.equal(summary.workers, (doc.workers as unknown[]).length, name);
    const workers = workerRecords(doc, "/s.sock", false, rates, new TypeRegistry());
    assert.equal(workers.length, (doc.workers as unknown[]).length, name);
    for (const w of workers) assertFlatAndTyped(w, `${name} worker`);
    assertFlatAndTyped(flatRecord(doc, "/s.sock", false, new TypeRegistry(), "uwsgi.flat"), `${name} flat`);
  }
});

test("every field keeps the same type across all samples, in every shape", () => {
  const seen = new Map<string, string>();
  const check = (shape: string, record: Record<string, unknown>, name: string): void => {
    for (const [key, value] of Object.entries(record)) {
      const id = `${shape}.${key}`;
      const before = seen.get(id);
      if (before === undefined) seen.set(id, typeof value);
      else assert.equal(typeof value, before, `${name}: ${id}`);
    }
  };
  for (const name of samples) {
    const doc = load(name);
    if (isEmperorDocument(doc)) {
      check("emperor", emperorRecord(doc, "e", false), name);
      continue;
    }
    const rates = new RateTracker().update(doc, 0);
    check("summary", summaryRecord(doc, "t", false, rates), name);
    for (const w of workerRecords(doc, "t", false, rates, new TypeRegistry())) check("worker", w, name);
    check("flat", flatRecord(doc, "t", false, new TypeRegistry(), "uwsgi.flat"), name);
  }
});

test("summary counts workers by status and sums their counters", () => {
  const doc = load("f_harakiri_maxreq_load_t0.json");
  const s = summaryRecord(doc, "t", false, new RateTracker().update(doc, 0));
  assert.equal(s.workers, 4);
  assert.equal(s.workers_busy, 1);
  assert.equal(s.workers_idle, 3);
  assert.equal(s.requests, 63 + 14 + 117 + 0);
  assert.equal(s.harakiri, 2);
  assert.equal(s.listen_queue, doc.listen_queue);
  assert.equal(s.reset, false);
  assert.equal(s.requests_per_sec, undefined, "no rate on the first poll");
});

test("rates between two polls 2 s apart are per second over the measured time, with the interval's mean response time", () => {
  const a = load("a_seed_unix_load_t0.json");
  const b = load("a_seed_unix_load_t0plus2s.json");
  const tracker = new RateTracker();
  tracker.update(a, 1000);
  const rates = tracker.update(b, 3000);
  const s = summaryRecord(b, "t", false, rates);
  const wa = (a.workers as Record<string, number>[])[0] as Record<string, number>;
  const wb = (b.workers as Record<string, number>[])[0] as Record<string, number>;
  assert.equal(s.interval_ms, 2000);
  const dReq = (wb.requests as number) - (wa.requests as number);
  assert.ok(dReq > 0);
  if (wb.pid === wa.pid) {
    assert.equal(s.requests_per_sec, dReq / 2);
    assert.equal(
      s.response_time_us,
      Math.round((((wb.running_time as number) - (wa.running_time as number)) / dReq) * 1000) / 1000,
    );
  }
  assert.equal(typeof s.avg_rt_max, "number");
});

test("a respawned worker (new pid in its slot) gets no rates for that interval; the others do", () => {
  const a = load("f_harakiri_maxreq_load_t0.json");
  const b = load("f_harakiri_maxreq_load_t0plus3s.json");
  const tracker = new RateTracker();
  tracker.update(a, 0);
  const rates = tracker.update(b, 3000);
  const workers = workerRecords(b, "t", false, rates, new TypeRegistry());
  const pidsA = new Map((a.workers as { id: number; pid: number }[]).map((w) => [w.id, w.pid]));
  for (const w of workers) {
    const respawned = pidsA.get(w.id as number) !== w.pid;
    assert.equal(w.respawned, respawned, `worker ${w.id}`);
    if (respawned) assert.equal(w.requests_per_sec, undefined, `worker ${w.id}`);
    else assert.ok((w.requests_per_sec as number) >= 0, `worker ${w.id}`);
  }
  const s = summaryRecord(b, "t", false, rates);
  assert.ok(
    (s.requests_per_sec as number) >= 0,
    "counters kept growing across respawns: the summary has rates",
  );
});

test("a SIGHUP reload (same master pid, counters back to 0) is a reset, reported once, with no rates", () => {
  const before = load("d_big_before_sighup_reload.json");
  const after = load("d_big_after_sighup_reload_counters_reset.json");
  assert.equal(before.pid, after.pid);
  const tracker = new RateTracker();
  tracker.update(before, 0);
  const rates = tracker.update(after, 2000);
  assert.equal(rates.reset, "reload");
  const s = summaryRecord(after, "t", false, rates);
  assert.equal(s.reset, true);
  for (const key of Object.keys(s)) assert.ok(!key.endsWith("_per_sec"), `${key} after a reset`);
  for (const w of workerRecords(after, "t", false, rates, new TypeRegistry()))
    assert.equal(w.requests_per_sec, undefined);
  const again = tracker.update(after, 3000);
  assert.equal(again.reset, undefined, "reported once");
  assert.equal(summaryRecord(after, "t", false, again).requests_per_sec, 0);
});

test("a master pid change is a restart: no rates for that interval", () => {
  const a = load("seed-idle.json");
  const b = load("big-t0.json");
  const tracker = new RateTracker();
  tracker.update(a, 0);
  const rates = tracker.update(b, 1000);
  assert.equal(rates.reset, "restart");
  assert.equal(rates.summary, undefined);
});

test("the Emperor's own document is recognised and summarised", () => {
  const doc = load("e_emperor_own_stats_server.json");
  assert.ok(isEmperorDocument(doc));
  const e = emperorRecord(doc, "/e.sock", false);
  assertFlatAndTyped(e, "emperor");
  assert.equal(e.vassals, 3);
  assert.equal(e.vassals_loyal, 3);
  assert.equal(e.vassals_respawns, 0);
  assert.equal(e.blacklisted, 0);
  assert.equal(e.throttle_level, 0);
  assert.equal(e.pid, 11549);
});

test("flat keys follow the document's paths, with lock and metric names rewritten", () => {
  const flat = flatRecord(load("g_metrics_crons_daemons.json"), "t", false, new TypeRegistry(), "uwsgi.flat");
  assert.equal(flat.locks_0_user_0, 0);
  assert.equal(typeof flat.metrics_core_busy_workers_value, "number");
  assert.equal(typeof flat.workers_0_requests, "number");
  assert.equal(flat.crons_0_command, '/bin/true "quoted arg"');
  const big = flatRecord(load("big-t0.json"), "t", false, new TypeRegistry(), "uwsgi.flat");
  assert.equal(big.locks_9_spooler_on__tmp_uw_spool, 0);
});

test("raw records keep the document as sent; escapeKeys rewrites every key", () => {
  const doc = load("big-t0.json");
  const raw = rawRecord(doc, "t", false, false, new TypeRegistry());
  assert.deepEqual((raw.locks as object[])[0], { "user 0": 0 });
  assert.equal(raw.target, "t");
  const escaped = rawRecord(doc, "t", false, true, new TypeRegistry());
  assert.deepEqual((escaped.locks as object[])[0], { user_0: 0 });
  assert.ok(JSON.stringify(escaped).includes('"spooler_on__tmp_uw_spool"'));
});

test("the in-flight sample's Authorization-free vars keep their values but lose the query string", () => {
  const doc = load("a_seed_unix_busy_inflight_request.json");
  applyVarsPolicy(doc, "redact");
  const vars = (
    ((doc.workers as { cores: { vars: string[] }[] }[])[0] as { cores: { vars: string[] }[] }).cores[0] as {
      vars: string[];
    }
  ).vars;
  assert.ok(vars.includes("PATH_INFO=/slow"));
  assert.ok(vars.includes("QUERY_STRING=[REDACTED]"));
  assert.ok(vars.includes("REQUEST_URI=/slow?[REDACTED]"));
  assert.ok(vars.includes('HTTP_X_CUSTOM=hello "quoted" \\ backslash'));
});
