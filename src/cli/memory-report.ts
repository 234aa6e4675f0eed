import type { ForwardItem, StatsTags } from "../index.js";

/**
 * Polls in a row in which a target's workers served requests and every worker's `rss` was 0 before the sidecar
 * warns that the uWSGI runs without `memory-report`. (With it, uWSGI measures a worker's memory after each request,
 * so a worker that has served none reports 0 either way: such polls prove nothing and are not counted.)
 */
export const MEMORY_REPORT_POLLS = 3;

/** A worker's `requests` and `rss`, or the sums over a target's workers. */
interface Memory {
  requests: number;
  rss: number;
}

/**
 * Watches the records of each poll for a uWSGI without `memory-report` (its `rss` and `vsz` stay 0, so every memory
 * figure and query downstream is empty) and warns once per target after MEMORY_REPORT_POLLS such polls in a row.
 */
export class MemoryReportCheck {
  /** This poll's sums per target. */
  readonly #poll = new Map<string, Memory>();
  /** Polls in a row with requests served and no rss, per target. */
  readonly #zeroPolls = new Map<string, number>();
  readonly #warned = new Set<string>();

  constructor(
    private readonly tags: Readonly<StatsTags>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Takes a record of the poll under way (`record` event of the source). */
  record(item: ForwardItem): void {
    const record = item.record;
    if (typeof record.target !== "string") return;
    const memory = this.#memoryOf(item.tag, record);
    if (memory === undefined) return;
    const sum = this.#poll.get(record.target) ?? { requests: 0, rss: 0 };
    sum.requests += memory.requests;
    sum.rss += memory.rss;
    this.#poll.set(record.target, sum);
  }

  /** Ends a poll (`poll` event of the source): counts it per target, and warns where the count is reached. */
  poll(): void {
    for (const [target, { requests, rss }] of this.#poll) {
      if (rss > 0) this.#zeroPolls.delete(target);
      if (rss > 0 || requests === 0) continue;
      const polls = (this.#zeroPolls.get(target) ?? 0) + 1;
      this.#zeroPolls.set(target, polls);
      if (polls < MEMORY_REPORT_POLLS || this.#warned.has(target)) continue;
      this.#warned.add(target);
      this.warn(
        `target ${target}: every worker's rss is 0 after serving requests, ${polls} polls in a row: ` +
          "that uWSGI runs without memory-report, so rss and vsz stay 0; add memory-report = true to its ini " +
          "(docs/uwsgi.md)",
      );
    }
    this.#poll.clear();
  }

  /** The memory figures a record of a known shape carries (summed over workers), or undefined. */
  #memoryOf(tag: string, record: ForwardItem["record"]): Memory | undefined {
    const n = (value: unknown): number => (typeof value === "number" ? value : 0);
    if (tag === this.tags.summary || tag === this.tags.worker) {
      return typeof record.rss === "number" ? { requests: n(record.requests), rss: record.rss } : undefined;
    }
    if (tag === this.tags.raw && Array.isArray(record.workers)) {
      const sum = { requests: 0, rss: 0 };
      for (const worker of record.workers as unknown[]) {
        const w = (worker ?? {}) as Record<string, unknown>;
        sum.requests += n(w.requests);
        sum.rss += n(w.rss);
      }
      return sum;
    }
    if (tag === this.tags.flat) {
      const sum = { requests: 0, rss: 0, workers: 0 };
      for (const [key, value] of Object.entries(record)) {
        const field = /^workers_\d+_(requests|rss)$/.exec(key)?.[1];
        if (field === "requests") sum.requests += n(value);
        if (field === "rss") {
          sum.rss += n(value);
          sum.workers++;
        }
      }
      return sum.workers > 0 ? { requests: sum.requests, rss: sum.rss } : undefined;
    }
    return undefined;
  }
}
