import { test } from "node:test";
import assert from "node:assert/strict";
import { EpochClock } from "../../src/forward/protocol/epoch-clock.js";

/**
 * A machine's two clocks, driven by the test: `trueNs` advances only when the test says so; the monotonic clock
 * reads it in nanoseconds, the wall clock reads `floor(offsetMs + trueNs × rate / 1e6)` milliseconds, as
 * `Date.now()` does.
 */
class TestClocks {
  trueNs = 123_456_789_012;
  offsetMs = 1_733_000_000_123.5;
  /** Wall clock speed relative to the monotonic one (NTP slew makes it differ from 1). */
  rate = 1;
  wallReads = 0;

  readonly wall = (): number => {
    this.wallReads++;
    return this.expectedWall();
  };

  readonly mono = (): [number, number] => [Math.floor(this.trueNs / 1e9), this.trueNs % 1e9];

  expectedWall(): number {
    return Math.floor(this.offsetMs + (this.trueNs * this.rate) / 1e6);
  }
}

/** A deterministic stream of steps from 0 to `maxNs` nanoseconds (xorshift). */
function steps(seed: number, maxNs: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % maxNs;
  };
}

test("epoch clock: every reading equals what the wall clock reads at that instant, across millisecond boundaries", () => {
  const clocks = new TestClocks();
  const clock = new EpochClock(clocks.wall, clocks.mono);
  const next = steps(7, 3_000_000);
  const readings = 200_000;
  for (let i = 0; i < readings; i++) {
    clocks.trueNs += next();
    assert.equal(clock.now(), clocks.expectedWall(), `reading ${i}`);
  }
});

test("epoch clock: readings thousands to a millisecond, as in a burst of sends, read the wall clock for fewer than 2%", () => {
  const clocks = new TestClocks();
  const clock = new EpochClock(clocks.wall, clocks.mono);
  const next = steps(11, 600);
  const readings = 200_000;
  for (let i = 0; i < readings; i++) {
    clocks.trueNs += next();
    assert.equal(clock.now(), clocks.expectedWall(), `reading ${i}`);
  }
  assert.ok(clocks.wallReads < readings / 50, `${clocks.wallReads} wall readings for ${readings} readings`);
});

test("epoch clock: a step of the wall clock, back or forward, shows within 100 ms", () => {
  const clocks = new TestClocks();
  const clock = new EpochClock(clocks.wall, clocks.mono);
  const next = steps(3, 200_000);
  for (let i = 0; i < 10_000; i++) {
    clocks.trueNs += next();
    clock.now();
  }
  for (const stepMs of [-10_000, 3_600_000, -1.5]) {
    clocks.offsetMs += stepMs;
    const stepAt = clocks.trueNs;
    for (let i = 0; i < 10_000; i++) {
      clocks.trueNs += next();
      if (clocks.trueNs - stepAt >= 100_000_000) {
        assert.equal(clock.now(), clocks.expectedWall(), `${stepMs} ms step, reading ${i}`);
      } else {
        clock.now();
      }
    }
  }
});

test("epoch clock: a wall clock slewed by 500 ppm against the monotonic clock still reads exactly", () => {
  for (const rate of [1.0005, 0.9995]) {
    const clocks = new TestClocks();
    clocks.rate = rate;
    const clock = new EpochClock(clocks.wall, clocks.mono);
    const next = steps(5, 2_000_000);
    for (let i = 0; i < 100_000; i++) {
      clocks.trueNs += next();
      assert.equal(clock.now(), clocks.expectedWall(), `rate ${rate}, reading ${i}`);
    }
  }
});

test("epoch clock: a mocked Date (node:test mock timers) is read as it is, then the real one again", (t) => {
  const clock = new EpochClock();
  const before = Date.now();
  const real = clock.now();
  assert.ok(real >= before && real <= Date.now());
  t.mock.timers.enable({ apis: ["Date"], now: 200_000_000_000 });
  assert.equal(clock.now(), 200_000_000_000);
  t.mock.timers.tick(1234);
  assert.equal(clock.now(), 200_000_001_234);
  t.mock.timers.reset();
  const after = Date.now();
  const again = clock.now();
  assert.ok(again >= after && again <= Date.now());
});
