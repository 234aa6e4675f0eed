/**
 * Drives a ForwardSink's time in tests: a TestClock given as the sink's `clock` runs the sink's timers only when the
 * test advances it (`tick`), real sockets keep running, and these helpers wait for what the sockets do.
 */
import { setImmediate as turn } from "node:timers/promises";
import type { Clock, Timer } from "../../src/forward/clock.js";

/** A timer of a TestClock: due at `at`, set `order`-th (timers due at the same time run in the order set). */
class TestTimer implements Timer {
  constructor(
    readonly at: number,
    readonly order: number,
    readonly fn: () => void,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/**
 * A manual Clock: time stands still until `tick(ms)` moves it, running every timer that falls due on the way, in
 * order of due time, each with `now()` at its due time (a timer set by a timer runs too if it falls due within the
 * tick). `random()` is a seeded generator, so jitter is the same on every run.
 */
export class TestClock implements Clock {
  #now: number;
  #order = 0;
  /** Pending timers, sorted by due time, then by the order they were set. */
  #timers: TestTimer[] = [];
  #seed: number;

  constructor({ now = 0, seed = 1 }: { now?: number; seed?: number } = {}) {
    this.#now = now;
    this.#seed = seed >>> 0;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = new TestTimer(this.#now + Math.max(0, ms), this.#order++, fn);
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1]!.at > timer.at) i--;
    this.#timers.splice(i, 0, timer);
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    const i = this.#timers.indexOf(timer as TestTimer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** mulberry32: a number in [0, 1). */
  random(): number {
    let t = (this.#seed = (this.#seed + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Moves time `ms` forward, running the timers that fall due, in order. */
  tick(ms: number): void {
    const end = this.#now + ms;
    for (let next = this.#timers[0]; next !== undefined && next.at <= end; next = this.#timers[0]) {
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}

/** Resolves once `predicate` holds, checking after every turn of the event loop (sockets keep running). */
export async function until(predicate: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (predicate()) return;
    await turn();
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * Milliseconds until a server's next reconnect attempt, from `stats().servers[i].nextRetryAt` (a wall-clock Date made
 * from the sink's clock: it may read 1 ms short, so tick one past it).
 */
export function msUntil(at: Date | undefined): number {
  if (at === undefined) throw new Error("no retry is scheduled");
  return Math.max(0, at.getTime() - Date.now());
}
