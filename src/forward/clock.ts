/** A timer handle: Node's Timeout satisfies it, and so does a test clock's. */
export interface Timer {
  ref(): unknown;
  unref(): unknown;
}

/**
 * Time and chance as the policy layers see them: injected, so that tests drive backoff, probes and deadlines
 * exactly instead of sleeping.
 */
export interface Clock {
  /** Milliseconds, for deadlines and retry times. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

/**
 * The real clock: `Date.now()`, the global timers and `Math.random`, each looked up at every call (so that
 * `node:test`'s mock timers drive it).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  random: () => Math.random(),
};
