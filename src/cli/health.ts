import type { EventRecord, RecordLabels } from "../index.js";

/** Per-target counters kept by the sidecar for its health record. */
interface TargetHealth {
  errors: number;
  state: "ok" | "failing";
  lastError: string;
}

/**
 * The sidecar's own health: counts polls and per-target errors from the source's events, and builds a
 * record (every --health-interval, on tag PREFIX.health) together with the sink's statistics.
 * Counters are totals since the sidecar started.
 */
export class Health {
  readonly #started = Date.now();
  #polls = 0;
  #records = 0;
  readonly #targets = new Map<string, TargetHealth>();

  /** One poll of every target finished. */
  poll(): void {
    this.#polls++;
  }

  /** One record came out of the source (its `target` field makes the target known to the health record). */
  record(record: Record<string, unknown>): void {
    this.#records++;
    if (typeof record.target === "string") this.#target(record.target);
  }

  /** A target failed (targetError). */
  targetError(target: string, code: string): void {
    const entry = this.#target(target);
    entry.errors++;
    entry.state = "failing";
    entry.lastError = code;
  }

  /** A target answered again after failing. */
  targetOk(target: string): void {
    this.#target(target).state = "ok";
  }

  /**
   * The health record, starting with the source's labels (`host` and the static fields). `output` holds what the sink (or --stdout) reports: sent, acked, dropped,
   * buffered bytes and the per-server states, already in record form.
   */
  build(labels: RecordLabels, output: EventRecord): EventRecord {
    const targets = [...this.#targets].map(([target, t]) => ({
      target,
      state: t.state,
      errors: t.errors,
      last_error: t.lastError,
    }));
    return {
      ...labels,
      pid: process.pid,
      uptime_s: Math.round((Date.now() - this.#started) / 1000),
      polls: this.#polls,
      records: this.#records,
      target_errors: targets.reduce((n, t) => n + t.errors, 0),
      targets_failing: targets.filter((t) => t.state === "failing").length,
      targets,
      ...output,
    };
  }

  #target(target: string): TargetHealth {
    let entry = this.#targets.get(target);
    if (!entry) {
      entry = { errors: 0, state: "ok", lastError: "" };
      this.#targets.set(target, entry);
    }
    return entry;
  }
}
