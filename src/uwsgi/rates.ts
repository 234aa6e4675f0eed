import { counterRates } from "./entity-rates.js";
import { int, list, obj } from "./shapes/fields.js";

/** Counters that get a per-second rate, by their name in uWSGI's worker objects and in records. */
const COUNTERS = [
  ["requests", "requests"],
  ["exceptions", "exceptions"],
  ["harakiri_count", "harakiri"],
  ["respawn_count", "respawns"],
  ["tx", "tx"],
] as const;

/** Counter values by record name; a counter the document does not carry is not in the map. */
type CounterValues = Map<string, number>;

interface Counted {
  readonly counters: CounterValues;
  /** Σ `running_time` (µs), undefined when no worker carries it. */
  readonly runningTime: number | undefined;
}

interface WorkerState extends Counted {
  readonly pid: number | undefined;
}

interface Snapshot {
  readonly monotonic: number;
  readonly masterPid: number | undefined;
  readonly totals: Counted;
  readonly workers: Map<number, WorkerState>;
}

/** Why the counters of a target started again from zero. */
export type ResetKind = "reload" | "restart";

/** Rate fields of one record: `<counter>_per_sec` and `response_time_us`. */
export type RateFields = Record<string, number>;

/** The outcome of comparing a poll with the previous one of the same target. */
export interface RateResult {
  /** Measured time since the previous successful poll of this target, ms; undefined on the first poll. */
  readonly intervalMs: number | undefined;
  /** Set on the one poll where a reset was detected: `restart` (master pid changed) or `reload` (a counter went down, same pid). */
  readonly reset: ResetKind | undefined;
  /** Rates of the summed counters, or undefined when this interval's rates are omitted. */
  readonly summary: RateFields | undefined;
  /** Per worker id: whether its pid changed since the previous poll, and its rates (undefined when omitted). */
  readonly workers: Map<number, { respawned: boolean; rates: RateFields | undefined }>;
}

/**
 * Per-target memory of the previous poll, turning counters into per-second rates over the measured elapsed
 * time, at full precision. Rates are omitted (never negative, never a spike) on the first poll, after a master
 * restart, after a reset (a summed counter went down with the same master pid: SIGHUP reload), and per worker
 * when its pid changed (respawn) or one of its counters went down. A counter gets a rate only when both polls
 * carry it: a document without `harakiri_count` gives no `harakiri_per_sec`, never 0.
 */
export class RateTracker {
  private previous: Snapshot | undefined;

  update(doc: Record<string, unknown>, monotonic: number): RateResult {
    const current = snapshot(doc, monotonic);
    const prev = this.previous;
    this.previous = current;
    const workers = new Map<number, { respawned: boolean; rates: RateFields | undefined }>();
    if (!prev) {
      for (const id of current.workers.keys()) workers.set(id, { respawned: false, rates: undefined });
      return { intervalMs: undefined, reset: undefined, summary: undefined, workers };
    }
    const elapsedMs = current.monotonic - prev.monotonic;
    let reset: ResetKind | undefined;
    if (current.masterPid !== prev.masterPid) reset = "restart";
    else if (wentDown(prev.totals, current.totals)) reset = "reload";

    const usable = reset === undefined && elapsedMs > 0;
    const summary = usable ? rates(prev.totals, current.totals, elapsedMs) : undefined;
    for (const [id, w] of current.workers) {
      const before = prev.workers.get(id);
      const respawned = before !== undefined && before.pid !== w.pid;
      const ok = usable && before !== undefined && !respawned;
      workers.set(id, { respawned, rates: ok ? rates(before, w, elapsedMs) : undefined });
    }
    return { intervalMs: elapsedMs, reset, summary, workers };
  }
}

function snapshot(doc: Record<string, unknown>, monotonic: number): Snapshot {
  const totals: CounterValues = new Map();
  let runningTotal: number | undefined;
  const workers = new Map<number, WorkerState>();
  for (const item of list(doc.workers)) {
    const w = obj(item);
    const counters: CounterValues = new Map();
    for (const [field, name] of COUNTERS) {
      const v = int(w[field]);
      if (v === undefined) continue;
      counters.set(name, v);
      totals.set(name, (totals.get(name) ?? 0) + v);
    }
    const runningTime = int(w.running_time);
    if (runningTime !== undefined) runningTotal = (runningTotal ?? 0) + runningTime;
    const id = int(w.id);
    if (id !== undefined) workers.set(id, { pid: int(w.pid), counters, runningTime });
  }
  return {
    monotonic,
    masterPid: int(doc.pid),
    totals: { counters: totals, runningTime: runningTotal },
    workers,
  };
}

/** True when a counter (or the running time) both polls carry is lower now: a reload zeroed them. */
function wentDown(before: Counted, after: Counted): boolean {
  return rates(before, after, 1) === undefined;
}

/**
 * The rates from `before` to `after` (the counters both carry), and `response_time_us` when both carry
 * `requests` and `running_time` and a request finished; undefined when any counter went down.
 */
function rates(before: Counted, after: Counted, elapsedMs: number): RateFields | undefined {
  const out = counterRates(before.counters, after.counters, elapsedMs);
  if (out === undefined) return undefined;
  const { runningTime: runningBefore } = before;
  const { runningTime: runningAfter } = after;
  if (runningBefore === undefined || runningAfter === undefined) return out;
  if (runningAfter < runningBefore) return undefined;
  const requestsBefore = before.counters.get("requests");
  const requestsAfter = after.counters.get("requests");
  if (requestsBefore === undefined || requestsAfter === undefined) return out;
  const finished = requestsAfter - requestsBefore;
  if (finished > 0) out.response_time_us = (runningAfter - runningBefore) / finished;
  return out;
}
