import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_TAGS, STATS_SHAPES } from "../../src/uwsgi/options.js";
import { DocumentShaper } from "../helpers/uwsgi-shaper.js";
import { uwsgiSample } from "../helpers/uwsgi-samples.js";

const records = DocumentShaper.records;
const EVERY_SHAPE = STATS_SHAPES.filter((shape) => shape !== "raw");

test("workers that carry only status: the summary counts them by status and says nothing else it was not told", () => {
  const shaper = new DocumentShaper(EVERY_SHAPE);
  shaper.shape(uwsgiSample("status-only-workers.json"), 0);
  const second = shaper.shape(uwsgiSample("status-only-workers.json"), 1000);
  assert.equal(second.dropped, 0);
  assert.deepEqual(records(second, DEFAULT_TAGS.summary), [
    {
      host: "h",
      target: "/s.sock",
      repaired: false,
      reset: false,
      workers: 3,
      workers_busy: 1,
      workers_idle: 1,
      workers_cheap: 0,
      workers_pause: 0,
      workers_signal: 1,
      workers_other: 0,
      interval_ms: 1000,
    },
  ]);
  for (const w of records(second, DEFAULT_TAGS.worker)) {
    assert.deepEqual(Object.keys(w), ["host", "target", "repaired", "status", "respawned", "interval_ms"]);
  }
  for (const tag of ["socket", "app", "core", "cache", "spooler", "metric"] as const) {
    assert.deepEqual(records(second, DEFAULT_TAGS[tag]), [], `no ${tag} record without ${tag}s`);
  }
});

test("an older uWSGI's document (no version, pid, sockets, accepting, harakiri_count, signals): none of them, nor their rates, appear", () => {
  const shaper = new DocumentShaper(EVERY_SHAPE);
  const doc = JSON.parse(uwsgiSample("old-uwsgi-no-version.json").toString("utf8")) as {
    workers: Record<string, number>[];
  };
  shaper.shape(doc, 0);
  for (const w of doc.workers) {
    w.requests = (w.requests ?? 0) + 10;
    w.running_time = (w.running_time ?? 0) + 5000;
  }
  const second = shaper.shape(doc, 2000);
  assert.equal(second.dropped, 0);
  const summary = records(second, DEFAULT_TAGS.summary)[0] as Record<string, unknown>;
  for (const absent of [
    "version",
    "pid",
    "signal_queue",
    "sockets",
    "sockets_queue",
    "sockets_max_queue",
    "workers_accepting",
    "harakiri",
    "signals",
    "harakiri_per_sec",
    "cores",
    "cores_in_request",
    "spoolers",
  ]) {
    assert.equal(summary[absent], undefined, `summary.${absent}`);
  }
  assert.equal(summary.workers, 2);
  assert.equal(summary.requests, 220);
  assert.equal(summary.requests_per_sec, 10);
  assert.equal(summary.response_time_us, 500);
  assert.equal(summary.exceptions_per_sec, 0);
  for (const w of records(second, DEFAULT_TAGS.worker)) {
    for (const absent of [
      "master_pid",
      "accepting",
      "harakiri_count",
      "signals",
      "harakiri_per_sec",
      "cores",
    ]) {
      assert.equal(w[absent], undefined, `worker.${absent}`);
    }
    assert.equal(w.requests_per_sec, 5);
  }
  for (const r of records(second, DEFAULT_TAGS.app)) {
    assert.equal(r.master_pid, undefined, "no master pid in the document, none in the record");
    assert.equal(r.startup_time, undefined);
    assert.equal(r.requests_per_sec, 0, "the apps' counters did not move");
  }
});

test("a counter only one of two polls carries gets no rate: neither a spike nor a 0", () => {
  const shaper = new DocumentShaper(["summary", "worker"]);
  shaper.shape({ pid: 1, workers: [{ id: 1, pid: 2, requests: 5 }] }, 0);
  const second = shaper.shape({ pid: 1, workers: [{ id: 1, pid: 2, requests: 6, harakiri_count: 4 }] }, 1000);
  const summary = records(second, DEFAULT_TAGS.summary)[0];
  assert.equal(summary?.harakiri, 4);
  assert.equal(summary?.harakiri_per_sec, undefined);
  assert.equal(summary?.requests_per_sec, 1);
  assert.equal(records(second, DEFAULT_TAGS.worker)[0]?.harakiri_per_sec, undefined);
});

test("rates keep their precision: one harakiri in an hour is 1/3600 per second, not 0", () => {
  const shaper = new DocumentShaper(["summary", "worker"]);
  shaper.shape({ pid: 1, workers: [{ id: 1, pid: 2, harakiri_count: 0 }] }, 0);
  const second = shaper.shape({ pid: 1, workers: [{ id: 1, pid: 2, harakiri_count: 1 }] }, 3_600_000);
  assert.equal(records(second, DEFAULT_TAGS.summary)[0]?.harakiri_per_sec, 1 / 3600);
  assert.equal(records(second, DEFAULT_TAGS.worker)[0]?.harakiri_per_sec, 1 / 3600);
});
