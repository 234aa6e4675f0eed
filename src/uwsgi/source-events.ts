import type { ForwardItem } from "../item.js";
import type { UwsgiStatsError } from "./errors.js";
import type { ResetKind } from "./rates.js";

/** What one poll did, emitted as the `poll` event. */
export interface PollSummary {
  /** Epoch ms when the poll started. */
  readonly time: number;
  /** Wall time the poll took, ms. */
  readonly durationMs: number;
  /** Targets read (after glob expansion): 0 when every target is a glob and none matched. */
  readonly targets: number;
  /** Targets that answered with a usable document. */
  readonly ok: number;
  /** Targets that failed (stale ones included; a poll with no target at all counts 1). */
  readonly failed: number;
  /** Items produced (records of every tag, error records included). */
  readonly records: number;
  /** Scheduled ticks skipped since the previous poll: the previous poll ran long, or the consumer was not reading. */
  readonly skippedTicks: number;
  /**
   * Fields left out of this poll's records because the document sent them wrong: a field of another type than
   * its declared one (`"requests": "5"`), a number too large for a double (`1e400`), an undeclared field past
   * the registry's bound or of another type than it first had, or a document key named like a field the
   * source adds (`target`). Each such poll's records go out without those fields; nothing else changes.
   */
  readonly droppedFields: number;
}

/** Argument of the `reset` event: the target's counters started again from zero. */
export interface ResetInfo {
  /** `reload`: counters went down with the same master pid (SIGHUP); `restart`: the master pid changed. */
  readonly kind: ResetKind;
  /** The master pid now. */
  readonly pid: number | undefined;
}

/** Argument of the `recover` event: a failing or stale target answers again. */
export interface RecoverInfo {
  readonly failedPolls: number;
  /** Time from the first failure to this recovery, ms. */
  readonly downMs: number;
  /** The code of the last failure. */
  readonly lastCode: string | undefined;
  /** True when the target had been reported stale. */
  readonly wasStale: boolean;
}

/**
 * The events of a `UwsgiStatsSource`, error first in every error event. A listener that throws does not lose
 * the poll's other items: its exception is re-thrown on the next tick. Readable's events (`data`, `end`,
 * `close`, `error`) keep their stream meaning; a target's failure never goes to `error`.
 */
export interface UwsgiStatsSourceEvents {
  /** Every item produced, by scheduled polls and by `poll()`. */
  record: (item: ForwardItem) => void;
  /** A poll of every target finished. */
  poll: (summary: PollSummary) => void;
  /**
   * A target failed (recoverable; a `uwsgi.error` record goes out too). Also `UWSGI_STATS_NO_TARGETS`, once,
   * when the globs match nothing (`target` is then the patterns).
   */
  targetError: (error: UwsgiStatsError, target: string) => void;
  /** A target found by a glob refuses connections (its vassal is gone): reported once, then retried quietly. */
  stale: (error: UwsgiStatsError, target: string) => void;
  /** A failing or stale target answers again. */
  recover: (target: string, info: RecoverInfo) => void;
  /** A target's counters started again from zero; that interval's rates are omitted. */
  reset: (target: string, info: ResetInfo) => void;
}
