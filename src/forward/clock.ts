/** A timer handle: Node's Timeout satisfies it, and so does a test clock's. */
export interface Timer {
  ref(): unknown;
  unref(): unknown;
}

/**
 * Time and chance as the send path sees them: every timer of a ForwardSink (batch delay, close deadlines, backoff,
 * probes, connect/handshake/ack/heartbeat deadlines, DNS refresh, connection age) and every reading of time comes
 * from one Clock, so tests and simulations drive them exactly instead of sleeping (the sink's `clock` option).
 */
export interface Clock {
  /**
   * Milliseconds on a monotonic clock, for deadlines and retry times: only the difference between two readings
   * means anything (a wall-clock step, NTP or a VM resumed, must neither fire nor hold a deadline).
   */
  now(): number;
  /** Runs `fn` once, `ms` milliseconds from `now()`. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Cancels a timer this clock set; `undefined` and a timer that already ran are ignored. */
  clearTimeout(timer: Timer | undefined): void;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

/**
 * The real clock: `performance.now()` (monotonic), the global timers and `Math.random`, each looked up at every
 * call.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  random: () => Math.random(),
};

const CLOCK_METHODS = ["now", "setTimeout", "clearTimeout", "random"] as const;

/** True for an object with every method of a Clock (the `clock` option's check). */
export function isClock(value: unknown): value is Clock {
  if (typeof value !== "object" || value === null) return false;
  const o = value as Record<string, unknown>;
  return CLOCK_METHODS.every((m) => typeof o[m] === "function");
}
