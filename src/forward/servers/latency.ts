/** Keeps the last `size` ack round trips of a server and reports their p50/p99. */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #count = 0;
  #next = 0;

  constructor(size = 1024) {
    this.#samples = new Float64Array(size);
  }

  /** Adds one sample (milliseconds). */
  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  /** p50 and p99 of the kept samples, rounded to 0.01 ms; undefined when empty. */
  percentiles(): { p50: number; p99: number } | undefined {
    const count = this.#count;
    if (count === 0) return undefined;
    const sorted = this.#samples.slice(0, count).sort();
    const at = (q: number) => Math.round(sorted[Math.min(count - 1, Math.floor(q * count))]! * 100) / 100;
    return { p50: at(0.5), p99: at(0.99) };
  }
}
