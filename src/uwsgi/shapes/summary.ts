import type { RateResult } from "../rates.js";
import { int, list, obj, put, str } from "./fields.js";

const STATUSES = ["busy", "idle", "cheap", "pause"] as const;

/** Worker fields summed into the summary, by their name in the document and in the record. */
const SUMS = [
  ["requests", "requests"],
  ["exceptions", "exceptions"],
  ["harakiri_count", "harakiri"],
  ["respawn_count", "respawns"],
  ["tx", "tx"],
  ["rss", "rss"],
  ["vsz", "vsz"],
  ["running_time", "running_time"],
  ["signals", "signals"],
] as const;

/**
 * The `summary` record: one flat record per target per poll with the master's health, workers by status,
 * summed counters, per-second rates, response times and socket queues. docs/records.md lists every field.
 * Absent is absent: a count or a sum is present only when the document carries what it counts (a sum when
 * at least one worker carries the field as an integer), never a 0 standing for "not reported".
 */
export function summaryRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  rates: RateResult,
): Record<string, unknown> {
  const r: Record<string, unknown> = { target, repaired, reset: rates.reset !== undefined };
  put(r, "version", str(doc.version));
  put(r, "pid", int(doc.pid));
  for (const key of ["listen_queue", "listen_queue_errors", "signal_queue", "load"])
    put(r, key, int(doc[key]));
  if (Array.isArray(doc.workers)) addWorkers(r, list(doc.workers).map(obj));
  if (Array.isArray(doc.sockets)) addSockets(r, list(doc.sockets).map(obj));
  const spoolers = list(doc.spoolers).map(obj);
  if (spoolers.length > 0) {
    r.spoolers = spoolers.length;
    put(r, "spooler_tasks", sum(spoolers, "tasks"));
  }
  put(r, "interval_ms", rates.intervalMs);
  if (rates.summary) Object.assign(r, rates.summary);
  return r;
}

/** Σ `field` over the objects that carry it as an integer; undefined when none does. */
function sum(objects: readonly Record<string, unknown>[], field: string): number | undefined {
  let total: number | undefined;
  for (const o of objects) {
    const v = int(o[field]);
    if (v !== undefined) total = (total ?? 0) + v;
  }
  return total;
}

function addWorkers(r: Record<string, unknown>, workers: readonly Record<string, unknown>[]): void {
  r.workers = workers.length;
  const byStatus: Record<string, number> = { busy: 0, idle: 0, cheap: 0, pause: 0, signal: 0, other: 0 };
  let withStatus = 0;
  let accepting: number | undefined;
  let cores: number | undefined;
  let coresInRequest: number | undefined;
  let avgRtMax: number | undefined;
  let weighted = 0;
  let weightedRequests = 0;
  for (const w of workers) {
    const status = str(w.status);
    if (status !== undefined) {
      withStatus++;
      if ((STATUSES as readonly string[]).includes(status)) byStatus[status] = (byStatus[status] ?? 0) + 1;
      else if (status.startsWith("sig")) byStatus.signal = (byStatus.signal ?? 0) + 1;
      else byStatus.other = (byStatus.other ?? 0) + 1;
    }
    const accepts = int(w.accepting);
    if (accepts !== undefined) accepting = (accepting ?? 0) + (accepts > 0 ? 1 : 0);
    const avgRt = int(w.avg_rt);
    const requests = int(w.requests);
    if (avgRt !== undefined) {
      avgRtMax = avgRtMax === undefined ? avgRt : Math.max(avgRtMax, avgRt);
      if (requests !== undefined) {
        weighted += avgRt * requests;
        weightedRequests += requests;
      }
    }
    if (Array.isArray(w.cores)) {
      cores = (cores ?? 0) + w.cores.length;
      for (const core of w.cores) {
        const inRequest = int(obj(core).in_request);
        if (inRequest !== undefined) coresInRequest = (coresInRequest ?? 0) + (inRequest > 0 ? 1 : 0);
      }
    }
  }
  if (withStatus > 0) for (const [status, count] of Object.entries(byStatus)) r[`workers_${status}`] = count;
  put(r, "workers_accepting", accepting);
  put(r, "cores", cores);
  put(r, "cores_in_request", coresInRequest);
  for (const [field, name] of SUMS) put(r, name, sum(workers, field));
  put(r, "avg_rt_max", avgRtMax);
  if (weightedRequests > 0) r.avg_rt_weighted = Math.round(weighted / weightedRequests);
}

function addSockets(r: Record<string, unknown>, sockets: readonly Record<string, unknown>[]): void {
  r.sockets = sockets.length;
  sockets.forEach((s, i) => {
    put(r, `socket_${i}_queue`, int(s.queue));
    put(r, `socket_${i}_max_queue`, int(s.max_queue));
  });
  put(r, "sockets_queue", sum(sockets, "queue"));
  put(r, "sockets_max_queue", sum(sockets, "max_queue"));
}
