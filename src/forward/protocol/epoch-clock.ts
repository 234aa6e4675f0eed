/** Monotonic time as `process.hrtime()` gives it: `[seconds, nanoseconds]`. */
export type MonotonicTime = () => readonly [number, number];

/** How often the wall clock is read again at least, so that a step of the system clock shows within this. */
const RESYNC_MS = 100;
/** How fast the wall clock may drift from the monotonic one (1000 ppm: ten times NTP's slew limit). */
const MAX_DRIFT = 1e-3;

/**
 * Epoch milliseconds, exactly as `Date.now()` gives them, but read without allocating: `Date.now()` returns
 * a heap number (16 bytes) on every call, `process.hrtime()` does not once inlined. The clock keeps bounds on
 * the offset between the wall clock and the monotonic clock, learnt from `Date.now()` readings; a reading
 * whose whole millisecond these bounds decide is answered from the monotonic clock, any other one (near a
 * millisecond boundary, at least every 100 ms, or while `Date.now` is not the native one, e.g. under mock
 * timers) reads `Date.now()` and narrows the bounds. The answer is always a value `Date.now()` returned or
 * would have returned during the call; a step of the system clock shows within 100 ms.
 */
export class EpochClock {
  readonly #wall: () => number;
  readonly #mono: MonotonicTime;
  /** True when the wall clock was injected: it is trusted as it is. */
  readonly #injected: boolean;
  // The offset (wall − monotonic, in ms) lies in [#low, #high) as of #sampledAt (monotonic ms). Plain number
  // fields: V8 reads them unboxed (a small Float64Array, allocated on the heap, defeats the hrtime array's
  // escape analysis and costs 32 bytes a reading).
  #low = -Infinity;
  #high = Infinity;
  #sampledAt = -Infinity;
  #seenNow: (() => number) | undefined;
  #nativeNow = false;

  /** `wall` and `mono` are injected by tests; by default `Date.now()` and `process.hrtime()`. */
  constructor(wall?: () => number, mono: MonotonicTime = process.hrtime) {
    this.#injected = wall !== undefined;
    this.#wall = wall ?? (() => Date.now());
    this.#mono = mono;
  }

  /** The current time in epoch milliseconds (an integer, as `Date.now()`). */
  now(): number {
    if (!this.#trustsWall()) return Date.now();
    const mono = this.#monoMs();
    const elapsed = mono - this.#sampledAt;
    if (elapsed < RESYNC_MS) {
      const drift = elapsed * MAX_DRIFT;
      const ms = Math.floor(this.#low - drift + mono);
      // The upper bound is exclusive: a wall time just below it still floors to `ms`.
      if (ms === Math.ceil(this.#high + drift + mono) - 1) return ms;
    }
    // `+ 0` makes the slow path's result a float64 like the fast path's: V8 would otherwise box every reading.
    return this.#sample() + 0;
  }

  /** Reads the wall clock between two monotonic readings and narrows (or, after a step, resets) the bounds. */
  #sample(): number {
    const monoBefore = this.#monoMs();
    const wall = this.#wall();
    const monoAfter = this.#monoMs();
    // The wall clock read `wall` at some instant between the two monotonic readings, and was below wall + 1.
    const low = wall - monoAfter;
    const high = wall + 1 - monoBefore;
    const drift = (monoAfter - this.#sampledAt) * MAX_DRIFT;
    const oldLow = this.#low - drift;
    const oldHigh = this.#high + drift;
    // Disjoint bounds: the wall clock was stepped; start again from this reading.
    const stepped = !(low < oldHigh && high > oldLow);
    this.#low = stepped || low > oldLow ? low : oldLow;
    this.#high = stepped || high < oldHigh ? high : oldHigh;
    this.#sampledAt = monoAfter;
    return wall;
  }

  /** Monotonic milliseconds (fractional). */
  #monoMs(): number {
    const t = this.#mono();
    return t[0] * 1000 + t[1] / 1e6;
  }

  /** Forgets the bounds: the next reading samples the wall clock afresh. */
  #forget(): void {
    this.#low = -Infinity;
    this.#high = Infinity;
    this.#sampledAt = -Infinity;
  }

  /**
   * True while the bounds may be used: the wall clock is injected, or `Date.now` is the native one (a mocked
   * `Date`, as under `node:test` mock timers or sinon, is read directly; the bounds learnt before are forgotten).
   */
  #trustsWall(): boolean {
    if (this.#injected) return true;
    const now = Date.now;
    if (now !== this.#seenNow) {
      this.#seenNow = now;
      this.#nativeNow = isNative(now);
      this.#forget();
    }
    return this.#nativeNow;
  }
}

function isNative(fn: () => number): boolean {
  return Function.prototype.toString.call(fn).includes("[native code]");
}
