import type { PollSummary } from "./source-events.js";

/** One target's figures in `source.stats().targets`: what a health check or a metrics scrape needs. */
export interface TargetStats {
  /** The target as records carry it (for a glob, the matched path). */
  readonly target: string;
  /** True when the target's last read gave a usable document. */
  readonly up: boolean;
  /** True while the target is a stale glob target (reported once, then polled quietly). */
  readonly stale: boolean;
  /** Reads of this target (every poll that reached it), successful or not. */
  readonly reads: number;
  /** Reads that failed. */
  readonly failures: number;
  /** Consecutive failed reads now (0 while it answers). */
  readonly failedPolls: number;
  /** The code of the last failure, until the target answers again. */
  readonly lastCode: string | undefined;
  /** Wall time of the last read (connect, read, parse and shape), ms. */
  readonly lastDurationMs: number | undefined;
  /** Epoch ms of the last successful read's reply. */
  readonly lastSuccessAt: number | undefined;
}

/**
 * Figures returned by `source.stats()`: totals since the source was created, the last poll, and every target
 * the source knows now (explicit targets once read, glob matches while they match).
 */
export interface SourceStats {
  /** Polls of every target finished (scheduled and `poll()` calls). */
  readonly polls: number;
  /** Scheduled ticks skipped over the source's life (a long poll, or a consumer that was not reading). */
  readonly skippedTicks: number;
  /** Items produced over the source's life (records of every tag, error records included). */
  readonly records: number;
  /** The last poll's summary, or undefined before the first poll ended. */
  readonly lastPoll: PollSummary | undefined;
  /** Per target, in the order they were first read. */
  readonly targets: readonly TargetStats[];
}
