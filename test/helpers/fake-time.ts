/**
 * Drives a ForwardSink's clock in fault tests: `node:test`'s mock timers replace `setTimeout` (the sink's Clock
 * looks it up at each call), real sockets keep running, and these helpers wait for what the sockets do.
 */
import { setImmediate as turn } from "node:timers/promises";

/** Resolves once `predicate` holds, checking after every turn of the event loop (sockets keep running). */
export async function until(predicate: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (predicate()) return;
    await turn();
  }
  throw new Error(`never happened: ${what}`);
}

/** Milliseconds until a server's next reconnect attempt, from `stats().servers[i].nextRetryAt`. */
export function msUntil(at: Date | undefined): number {
  if (at === undefined) throw new Error("no retry is scheduled");
  return Math.max(0, at.getTime() - Date.now());
}
