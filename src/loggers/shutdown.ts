import { writeSync } from "node:fs";
import type { ForwardSink } from "../index.js";

/** What a logger's sink left undelivered when it closed, as reported on stderr. */
export interface LoggerCloseSummary {
  /** Events not delivered by the deadline and not kept on disk (dropped at close). */
  undelivered: number;
  /** Events not delivered by the deadline and kept in `bufferPath` for the next start. */
  kept: number;
  /** Events dropped over the sink's life (`undelivered` and refused events included). */
  dropped: number;
  /** The close deadline passed. */
  timedOut: boolean;
}

/**
 * Closes a logger's sink within `timeoutMs` and, when anything was lost, says so on stderr (synchronously: at
 * process exit nothing asynchronous runs any more). `refused`: events the sink threw on. The one place that reads
 * ForwardSink's close report.
 */
export async function closeSink(
  sink: ForwardSink,
  name: string,
  timeoutMs: number,
  refused = 0,
): Promise<LoggerCloseSummary> {
  const report = await sink.close({ timeoutMs });
  const summary: LoggerCloseSummary = {
    undelivered: report.undeliveredEvents - report.keptEvents,
    kept: report.keptEvents,
    dropped: sink.stats().dropped + refused,
    timedOut: report.timedOut,
  };
  if (summary.undelivered > 0 || summary.dropped > 0) {
    const deadline = summary.timedOut ? ` (not delivered within closeTimeoutMs ${timeoutMs})` : "";
    writeSync(
      2,
      `${name}: ${summary.undelivered} log events undelivered at close${deadline}; ` +
        `${summary.dropped} dropped in all (see the "drop" event)\n`,
    );
  }
  if (summary.kept > 0) {
    writeSync(2, `${name}: ${summary.kept} log events kept in bufferPath, to be sent at the next start\n`);
  }
  return summary;
}

/** Resolves when `promise` does or after `ms`, whichever comes first (a flush never waits past the deadline). */
export function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
