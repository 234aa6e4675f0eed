import { InvalidOptionError } from "../errors.js";
import { describe } from "../options.js";
import { ForwardCloseTimeoutError } from "./errors.js";
import type { CloseOptions, CloseReport } from "./sink-types.js";

/** `close()`'s deadline in ms (default 10000), or the error for a `timeoutMs` that is not an integer >= 0. */
export function closeTimeoutMs(options: CloseOptions): number | InvalidOptionError {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
    return new InvalidOptionError(
      "timeoutMs",
      `expected an integer >= 0, got ${describe(options.timeoutMs)}`,
    );
  }
  return timeoutMs;
}

/** What was still buffered when the sink shut down. */
export interface Undelivered {
  events: number;
  frames: number;
  bytes: number;
}

/** What the sink's counters know at close. */
export interface Known {
  written: number;
  acknowledged: number | undefined;
  delivered: boolean;
}

/** The report `close()` resolves with; a `FORWARD_CLOSE_TIMEOUT` error when something was left undelivered. */
export function closeReport(undelivered: Undelivered, known: Known): CloseReport {
  const { events, frames, bytes } = undelivered;
  const drained = events === 0;
  return {
    ...known,
    timedOut: !drained,
    undeliveredEvents: events,
    undeliveredFrames: frames,
    undeliveredBytes: bytes,
    error: drained
      ? undefined
      : new ForwardCloseTimeoutError(
          `closed with ${events} events (${frames} frames, ${bytes} bytes) undelivered`,
        ),
  };
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; clears its timer either way. */
export async function raceTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
