/** The reconnect backoff of a failing server: doubling from `minDelayMs` up to `maxDelayMs`. */
export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * How long to wait before the next attempt after `failures` consecutive failures (>= 1): the exponential step,
 * capped, with jitter in [50 %, 100 %] of it so that many clients do not reconnect in step. Pure: `random` in [0, 1).
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: number): number {
  const base = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(30, failures - 1));
  return Math.round(base / 2 + (random * base) / 2);
}
