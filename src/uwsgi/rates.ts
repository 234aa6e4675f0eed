import { list, num, obj } from "./shapes/fields.js";

/** Counters that get a per-second rate, by their name in uWSGI's worker objects and in records. */
const COUNTERS = [
  ["requests", "requests"],
  ["exceptions", "exceptions"],
  ["harakiri_count", "harakiri"],
  ["respawn_count", "respawns"],
  ["tx", "tx"],
] as const;

type CounterValues = Record<string, number>;

interface WorkerState {
  readonly pid: number | undefined;
  readonly counters: CounterValues;
  readonly runningTime: number;
}

interface Snapshot {
  readonly monotonic: number;
  readonly masterPid: number | undefined;
  readonly totals: CounterValues;
  readonly runningTime: number;
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
 * time. Rates are omitted (never negative, never a spike) on the first poll, after a master restart, after
 * a reset (a summed counter went down with the same master pid: SIGHUP reload), and per worker when its
 * pid changed (respawn) or one of its counters went down.
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
    else if (wentDown(prev.totals, current.totals) || current.runningTime < prev.runningTime)
      reset = "reload";

    const usable = reset === undefined && elapsedMs > 0;
    const summary = usable
      ? rates(prev.totals, current.totals, prev.runningTime, current.runningTime, elapsedMs)
      : undefined;
    for (const [id, w] of current.workers) {
      const before = prev.workers.get(id);
      const respawned = before !== undefined && before.pid !== w.pid;
      const ok =
        usable &&
        before !== undefined &&
        !respawned &&
        !wentDown(before.counters, w.counters) &&
        w.runningTime >= before.runningTime;
      workers.set(id, {
        respawned,
        rates: ok
          ? rates(before.counters, w.counters, before.runningTime, w.runningTime, elapsedMs)
          : undefined,
      });
    }
    return { intervalMs: round3(elapsedMs), reset, summary, workers };
  }
}

function snapshot(doc: Record<string, unknown>, monotonic: number): Snapshot {
  const totals: CounterValues = {};
  for (const [, name] of COUNTERS) totals[name] = 0;
  let runningTime = 0;
  const workers = new Map<number, WorkerState>();
  for (const item of list(doc.workers)) {
    const w = obj(item);
    const counters: CounterValues = {};
    for (const [field, name] of COUNTERS) {
      const v = num(w[field]) ?? 0;
      counters[name] = v;
      totals[name] = (totals[name] ?? 0) + v;
    }
    const rt = num(w.running_time) ?? 0;
    runningTime += rt;
    const id = num(w.id);
    if (id !== undefined) workers.set(id, { pid: num(w.pid), counters, runningTime: rt });
  }
  return { monotonic, masterPid: num(doc.pid), totals, runningTime, workers };
}

function wentDown(before: CounterValues, after: CounterValues): boolean {
  for (const key of Object.keys(before)) if ((after[key] ?? 0) < (before[key] ?? 0)) return true;
  return false;
}

function rates(
  before: CounterValues,
  after: CounterValues,
  runningBefore: number,
  runningAfter: number,
  elapsedMs: number,
): RateFields {
  const out: RateFields = {};
  for (const [, name] of COUNTERS) {
    out[`${name}_per_sec`] = round3((((after[name] ?? 0) - (before[name] ?? 0)) * 1000) / elapsedMs);
  }
  const finished = (after.requests ?? 0) - (before.requests ?? 0);
  if (finished > 0) out.response_time_us = round3((runningAfter - runningBefore) / finished);
  return out;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
