import type { HistogramFigures } from "./exposition.js";

/** Upper bounds (seconds) of the ack latency histogram: from a loopback round trip to the sink's 30 s ack timeout. */
export const ACK_LATENCY_BOUNDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** A cumulative histogram of observations in seconds, for the Prometheus `histogram` type. */
export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[] = ACK_LATENCY_BOUNDS) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  /** Counts one observation of `seconds`. */
  observe(seconds: number): void {
    this.#sum += seconds;
    this.#count++;
    const i = this.#bounds.findIndex((bound) => seconds <= bound);
    if (i >= 0) this.#counts[i] = (this.#counts[i] ?? 0) + 1;
  }

  /** The figures so far, counts cumulative as the text format wants them. */
  figures(): HistogramFigures {
    let running = 0;
    const cumulative = this.#counts.map((n) => (running += n));
    return { bounds: this.#bounds, cumulative, sum: this.#sum, count: this.#count };
  }
}
