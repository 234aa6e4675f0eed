import { escapeKey } from "../keys.js";
import type { RateResult } from "../rates.js";
import { list, num, obj } from "./fields.js";

/**
 * The `worker` records: one flat record per worker with every scalar uWSGI reports for it (id, pid,
 * status, requests, avg_rt, …), `apps`/`cores` counts, `respawned`, and its per-second rates.
 */
export function workerRecords(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  rates: RateResult,
): Record<string, unknown>[] {
  const masterPid = num(doc.pid);
  return list(doc.workers).map((item) => {
    const w = obj(item);
    const r: Record<string, unknown> = { target, repaired };
    if (masterPid !== undefined) r.master_pid = masterPid;
    for (const [key, value] of Object.entries(w)) {
      if (typeof value === "number" || typeof value === "string") r[escapeKey(key)] = value;
    }
    if (Array.isArray(w.apps)) r.apps = w.apps.length;
    if (Array.isArray(w.cores)) {
      r.cores = w.cores.length;
      r.cores_in_request = list(w.cores).filter((c) => (num(obj(c).in_request) ?? 0) > 0).length;
    }
    const id = num(w.id);
    const state = id === undefined ? undefined : rates.workers.get(id);
    r.respawned = state?.respawned ?? false;
    if (rates.intervalMs !== undefined) r.interval_ms = rates.intervalMs;
    if (state?.rates) Object.assign(r, state.rates);
    return r;
  });
}
