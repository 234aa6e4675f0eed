import { ForwardCloseTimeoutError } from "./errors.js";
import type { CloseReport } from "./sink-types.js";

/** What was still buffered when the sink shut down. */
export interface Undelivered {
  events: number;
  frames: number;
  bytes: number;
}

/** The report `close()` resolves with: delivered when nothing was left, else a `FORWARD_CLOSE_TIMEOUT` error. */
export function closeReport(undelivered: Undelivered): CloseReport {
  const { events, frames, bytes } = undelivered;
  const delivered = events === 0;
  return {
    delivered,
    timedOut: !delivered,
    undeliveredEvents: events,
    undeliveredFrames: frames,
    undeliveredBytes: bytes,
    error: delivered
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
