import { escapeKey } from "../keys.js";
import type { RateResult } from "../rates.js";
import { int, list, obj } from "./fields.js";

/** Names the source gives worker records itself: a worker's own key of one of these names is left out. */
const SOURCE_FIELDS = new Set([
  "target",
  "repaired",
  "host",
  "master_pid",
  "apps",
  "cores",
  "cores_in_request",
  "respawned",
  "interval_ms",
  "response_time_us",
]);

/** True when `key` is a field the source adds to worker records (a worker cannot send one of its own). */
function sourceField(key: string): boolean {
  return SOURCE_FIELDS.has(key) || key.endsWith("_per_sec");
}

/**
 * The `worker` records: one flat record per worker with every scalar uWSGI reports for it (id, pid,
 * status, requests, avg_rt, …), `apps`/`cores` counts, `respawned`, and its per-second rates. What the source
 * adds wins: a worker key named like one of those fields (`target`, `requests_per_sec`) is left out, counted
 * in `counter.dropped`.
 */
export function workerRecords(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  rates: RateResult,
  counter: { dropped: number },
): Record<string, unknown>[] {
  const masterPid = int(doc.pid);
  return list(doc.workers).map((item) => {
    const w = obj(item);
    const r: Record<string, unknown> = { target, repaired };
    if (masterPid !== undefined) r.master_pid = masterPid;
    for (const [key, value] of Object.entries(w)) {
      if (typeof value !== "number" && typeof value !== "string") continue;
      const name = escapeKey(key);
      if (sourceField(name)) counter.dropped++;
      else r[name] = value;
    }
    if (Array.isArray(w.apps)) r.apps = w.apps.length;
    if (Array.isArray(w.cores)) {
      r.cores = w.cores.length;
      let inRequest: number | undefined;
      for (const core of w.cores) {
        const v = int(obj(core).in_request);
        if (v !== undefined) inRequest = (inRequest ?? 0) + (v > 0 ? 1 : 0);
      }
      if (inRequest !== undefined) r.cores_in_request = inRequest;
    }
    const id = int(w.id);
    const state = id === undefined ? undefined : rates.workers.get(id);
    r.respawned = state?.respawned ?? false;
    if (rates.intervalMs !== undefined) r.interval_ms = rates.intervalMs;
    if (state?.rates) Object.assign(r, state.rates);
    return r;
  });
}
