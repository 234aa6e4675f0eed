import type { DropInfo, DropReason } from "../sink-types.js";

const REASONS: readonly DropReason[] = ["overflow", "evicted", "closed", "undelivered", "damaged"];

/**
 * Dropped events waiting to be reported: counted by reason and reported as one `drop` notification per
 * reason per turn of the event loop (an outage drops millions of events; listeners hear about batches).
 */
export class DropReporter {
  readonly #counts: Record<DropReason, number> = {
    overflow: 0,
    evicted: 0,
    closed: 0,
    undelivered: 0,
    damaged: 0,
  };
  readonly #report: (info: DropInfo) => void;
  #timer: NodeJS.Immediate | undefined;
  /** Made once: a closure written inside `add` would cost a context allocation on every dropped event. */
  readonly #flushLater = (): void => this.flush();

  /** `report` is called with each reason's count when the reporter flushes. */
  constructor(report: (info: DropInfo) => void) {
    this.#report = report;
  }

  /** Counts `count` dropped events; they are reported on the next turn of the event loop (or `flush`). */
  add(count: number, reason: DropReason): void {
    this.#counts[reason] += count;
    if (this.#timer === undefined) this.#timer = setImmediate(this.#flushLater);
  }

  /** Reports what was counted, now. */
  flush(): void {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    for (const reason of REASONS) {
      const count = this.#counts[reason];
      if (count > 0) {
        this.#counts[reason] = 0;
        this.#report({ count, reason });
      }
    }
  }
}
