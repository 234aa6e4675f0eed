import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { RECORD_SCHEMA, type EventRecord, type ServerStats, type TargetStats } from "../../src/index.js";
import { readiness } from "../../src/cli/metrics/readiness.js";
import { SidecarMetrics } from "../../src/cli/metrics/sidecar-metrics.js";
import type { SidecarSnapshot } from "../../src/cli/metrics/snapshot.js";
import { SHAPE_METRICS } from "../../src/cli/metrics/uwsgi-metrics.js";
import { ROOT } from "../helpers/cli-process.js";
import { findSamples, parsePrometheusText } from "../helpers/prometheus-text.js";

function target(name: string, up: boolean, lastCode?: string): TargetStats {
  return {
    target: name,
    up,
    stale: false,
    reads: 1,
    failures: up ? 0 : 1,
    failedPolls: up ? 0 : 1,
    lastCode,
    lastDurationMs: 1.5,
    lastSuccessAt: up ? 1_700_000_000_000 : undefined,
  };
}

function snapshot(targets: TargetStats[], extra: Partial<SidecarSnapshot> = {}): SidecarSnapshot {
  return {
    labels: { host: "web-1", env: "prod", status: "clash", __hidden: "x" },
    source: {
      polls: 1,
      skippedTicks: 0,
      records: 0,
      lastPoll: {
        time: 0,
        durationMs: 2,
        targets: targets.length,
        ok: 0,
        failed: 0,
        records: 0,
        skippedTicks: 0,
        droppedFields: 0,
      },
      targets,
    },
    retiredSources: { polls: 0, skippedTicks: 0, records: 0 },
    sinks: [],
    servers: undefined,
    printed: 0,
    bufferLimitBytes: undefined,
    stopping: false,
    ...extra,
  };
}

const worker = (id: number, extra: EventRecord = {}): EventRecord => ({
  host: "web-1",
  env: "prod",
  target: "/a.sock",
  id,
  requests: 10 * id,
  avg_rt: 1234,
  status: id === 1 ? "busy" : "sig9",
  ...extra,
});

test("every numeric field of summary, worker and emperor records is a metric, or left out for a stated reason", () => {
  // Rates are Prometheus's to compute (rate()); pids and ids are labels or noise; sums of a family are sum()'s.
  const leftOut =
    /^(pid|master_pid|id|interval_ms|.*_per_sec|sockets_queue|sockets_max_queue|emperors|emperor_tyrant)$/;
  for (const shape of ["summary", "worker", "emperor"] as const) {
    const mapped = new Set(SHAPE_METRICS[shape].map((m) => m.field));
    for (const field of RECORD_SCHEMA[shape].fields) {
      if (field.type !== "integer" && field.type !== "float") continue;
      assert.ok(mapped.has(field.name) || leftOut.test(field.name), `${shape}.${field.name} has a metric`);
    }
  }
});

test("shape values carry host, the static labels, target and worker_id, in seconds, with one status set", () => {
  const metrics = new SidecarMetrics();
  metrics.item("summary", {
    tag: "uwsgi.summary",
    time: 1000,
    record: {
      host: "web-1",
      env: "prod",
      target: "/a.sock",
      requests: 30,
      running_time: 2_500_000,
      socket_0_queue: 3,
      socket_1_queue: 0,
      version: "2.0.21",
    },
  });
  metrics.item("worker", { tag: "uwsgi.worker", time: 1000, record: worker(1) });
  metrics.item("worker", { tag: "uwsgi.worker", time: 1000, record: worker(2) });
  metrics.item(undefined, { tag: "uwsgi.stats", time: 1000, record: { target: "/a.sock", requests: 99 } });
  const samples = parsePrometheusText(metrics.render(snapshot([target("/a.sock", true)])));
  const labels = { host: "web-1", env: "prod", target: "/a.sock" };
  assert.deepEqual(
    findSamples(samples, "uwsgi_requests_total").map((s) => [s.labels, s.value]),
    [[labels, 30]],
  );
  assert.equal(findSamples(samples, "uwsgi_running_time_seconds_total")[0]?.value, 2.5);
  assert.deepEqual(
    findSamples(samples, "uwsgi_socket_queue_length").map((s) => [s.labels.socket, s.value]),
    [
      ["0", 3],
      ["1", 0],
    ],
  );
  assert.deepEqual(findSamples(samples, "uwsgi_info")[0]?.labels, { ...labels, version: "2.0.21" });
  assert.deepEqual(
    findSamples(samples, "uwsgi_worker_average_response_time_seconds").map((s) => [
      s.labels.worker_id,
      s.value,
    ]),
    [
      ["1", 0.001234],
      ["2", 0.001234],
    ],
  );
  const status = (id: string): string[] =>
    findSamples(samples, "uwsgi_worker_status", { worker_id: id })
      .filter((s) => s.value === 1)
      .map((s) => s.labels.status as string);
  assert.deepEqual([status("1"), status("2")], [["busy"], ["signal"]]);
  assert.ok(
    findSamples(samples, "uwsgi_forward_target_up").every((s) => !("__hidden" in s.labels)),
    "a __ label is left out",
  );
  assert.ok(
    findSamples(samples, "uwsgi_worker_status").every((s) => s.labels.status !== "clash"),
    "a static label never hides ours",
  );
});

test("a newer poll replaces a target's workers, a failing target shows no values, a forgotten target is forgotten", () => {
  const metrics = new SidecarMetrics();
  for (const id of [1, 2, 3]) metrics.item("worker", { tag: "uwsgi.worker", time: 1000, record: worker(id) });
  metrics.item("worker", { tag: "uwsgi.worker", time: 2000, record: worker(1) });
  metrics.item("worker", { tag: "uwsgi.worker", time: 1000, record: worker(2) }); // late, from the older poll
  const ids = (text: string): string[] =>
    findSamples(parsePrometheusText(text), "uwsgi_worker_requests_total").map(
      (s) => s.labels.worker_id as string,
    );
  assert.deepEqual(ids(metrics.render(snapshot([target("/a.sock", true)]))), ["1"]);
  assert.deepEqual(
    ids(metrics.render(snapshot([target("/a.sock", false, "UWSGI_STATS_REFUSED")]))),
    [],
    "down: no stale values",
  );
  assert.deepEqual(ids(metrics.render(snapshot([]))), []);
  assert.deepEqual(
    ids(metrics.render(snapshot([target("/a.sock", true)]))),
    [],
    "forgotten once the source forgot it",
  );
});

test("an Emperor's record gives uwsgi_emperor_* metrics", () => {
  const metrics = new SidecarMetrics();
  metrics.item("emperor", {
    tag: "uwsgi.emperor",
    time: 1,
    record: { host: "h", target: "/e.sock", vassals: 3, vassals_respawns: 7 },
  });
  const samples = parsePrometheusText(metrics.render(snapshot([target("/e.sock", true)])));
  assert.equal(findSamples(samples, "uwsgi_emperor_vassals")[0]?.value, 3);
  assert.equal(findSamples(samples, "uwsgi_emperor_vassal_respawns_total")[0]?.value, 7);
});

test("readiness needs a target that answered and a connected server, names every reason, and is 503 while stopping", () => {
  const server = (state: ServerStats["state"], code?: string): ServerStats =>
    ({
      id: "10.0.0.1:24224",
      state,
      lastError: code ? { code, message: "", at: new Date(0) } : undefined,
    }) as ServerStats;
  const up = [target("/a.sock", true)];
  assert.deepEqual(readiness(snapshot(up, { servers: [server("up")] })), {
    ready: true,
    reason: "1 of 1 targets up, 1 of 1 servers connected",
  });
  assert.deepEqual(readiness(snapshot(up)), { ready: true, reason: "1 of 1 targets up (--stdout)" });
  assert.deepEqual(
    readiness(
      snapshot([target("/a.sock", false, "UWSGI_STATS_REFUSED")], {
        servers: [server("down", "FORWARD_CONNECT_FAILED")],
      }),
    ),
    {
      ready: false,
      reason:
        "no target answered its last read: /a.sock (UWSGI_STATS_REFUSED); no Forward server connected: 10.0.0.1:24224 down (FORWARD_CONNECT_FAILED)",
    },
  );
  assert.equal(readiness(snapshot([])).reason, "no target to poll (no glob matched a socket)");
  const first = snapshot(up);
  assert.deepEqual(readiness({ ...first, source: { ...first.source, lastPoll: undefined } }), {
    ready: false,
    reason: "no poll has finished yet",
  });
  assert.equal(readiness(snapshot(up, { stopping: true })).ready, false);
});

test("docs/metrics.md has a row for every metric the sidecar can write, and none for a metric it cannot", () => {
  const source = ["sidecar-metrics.ts", "shape-values.ts", "uwsgi-metrics.ts"]
    .map((file) => readFileSync(join(ROOT, "src/cli/metrics", file), "utf8"))
    .join("\n");
  const written = new Set([...source.matchAll(/"((?:uwsgi|process)_[a-z_]+)"/g)].map((m) => m[1] as string));
  for (const metrics of Object.values(SHAPE_METRICS)) for (const m of metrics) written.add(m.name);
  assert.ok(written.size > 80, `${written.size} metrics`);
  const rows = readFileSync(join(ROOT, "docs/metrics.md"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("| `"));
  const documented = new Set(rows.map((line) => /^\| `([a-z_]+)`/.exec(line)?.[1]));
  for (const name of written) assert.ok(documented.has(name), `docs/metrics.md documents ${name}`);
  for (const name of documented)
    assert.ok(name && written.has(name), `${name} in docs/metrics.md is written`);
});
