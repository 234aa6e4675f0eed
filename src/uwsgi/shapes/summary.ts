import type { RateResult } from "../rates.js";
import { list, num, obj, put, str } from "./fields.js";

const STATUSES = ["busy", "idle", "cheap", "pause"] as const;

/**
 * The `summary` record: one flat record per target per poll with the master's health, workers by status,
 * summed counters, per-second rates, response times and socket queues. docs/records.md lists every field.
 */
export function summaryRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  rates: RateResult,
): Record<string, unknown> {
  const r: Record<string, unknown> = { target, repaired, reset: rates.reset !== undefined };
  put(r, "version", str(doc.version));
  put(r, "pid", num(doc.pid));
  for (const key of ["listen_queue", "listen_queue_errors", "signal_queue", "load"])
    put(r, key, num(doc[key]));

  const workers = list(doc.workers).map(obj);
  const byStatus: Record<string, number> = { busy: 0, idle: 0, cheap: 0, pause: 0, signal: 0, other: 0 };
  let accepting = 0;
  let cores = 0;
  let coresInRequest = 0;
  let anyCores = false;
  const sums = {
    requests: 0,
    exceptions: 0,
    harakiri: 0,
    respawns: 0,
    tx: 0,
    rss: 0,
    vsz: 0,
    running_time: 0,
    signals: 0,
  };
  let avgRtMax: number | undefined;
  let weighted = 0;
  for (const w of workers) {
    const status = str(w.status) ?? "";
    if ((STATUSES as readonly string[]).includes(status)) byStatus[status] = (byStatus[status] ?? 0) + 1;
    else if (status.startsWith("sig")) byStatus.signal = (byStatus.signal ?? 0) + 1;
    else byStatus.other = (byStatus.other ?? 0) + 1;
    if ((num(w.accepting) ?? 0) > 0) accepting++;
    const requests = num(w.requests) ?? 0;
    sums.requests += requests;
    sums.exceptions += num(w.exceptions) ?? 0;
    sums.harakiri += num(w.harakiri_count) ?? 0;
    sums.respawns += num(w.respawn_count) ?? 0;
    sums.tx += num(w.tx) ?? 0;
    sums.rss += num(w.rss) ?? 0;
    sums.vsz += num(w.vsz) ?? 0;
    sums.running_time += num(w.running_time) ?? 0;
    sums.signals += num(w.signals) ?? 0;
    const avgRt = num(w.avg_rt);
    if (avgRt !== undefined) {
      avgRtMax = avgRtMax === undefined ? avgRt : Math.max(avgRtMax, avgRt);
      weighted += avgRt * requests;
    }
    if (Array.isArray(w.cores)) {
      anyCores = true;
      for (const core of w.cores) {
        cores++;
        if ((num(obj(core).in_request) ?? 0) > 0) coresInRequest++;
      }
    }
  }
  r.workers = workers.length;
  for (const [status, count] of Object.entries(byStatus)) r[`workers_${status}`] = count;
  r.workers_accepting = accepting;
  if (anyCores) {
    r.cores = cores;
    r.cores_in_request = coresInRequest;
  }
  Object.assign(r, sums);
  put(r, "avg_rt_max", avgRtMax);
  if (sums.requests > 0 && avgRtMax !== undefined) r.avg_rt_weighted = Math.round(weighted / sums.requests);

  const sockets = list(doc.sockets).map(obj);
  r.sockets = sockets.length;
  let queue = 0;
  let maxQueue = 0;
  sockets.forEach((s, i) => {
    const q = num(s.queue);
    const m = num(s.max_queue);
    queue += q ?? 0;
    maxQueue += m ?? 0;
    put(r, `socket_${i}_queue`, q);
    put(r, `socket_${i}_max_queue`, m);
  });
  r.sockets_queue = queue;
  r.sockets_max_queue = maxQueue;

  const spoolers = list(doc.spoolers).map(obj);
  if (spoolers.length > 0) {
    r.spoolers = spoolers.length;
    r.spooler_tasks = spoolers.reduce((n, s) => n + (num(s.tasks) ?? 0), 0);
  }

  put(r, "interval_ms", rates.intervalMs);
  if (rates.summary) Object.assign(r, rates.summary);
  return r;
}
