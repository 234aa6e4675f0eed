import { setMaxListeners } from "node:events";
import { Readable } from "node:stream";
import type { ForwardItem } from "../item.js";
import { UwsgiStatsError, UwsgiStatsErrorCode as Code } from "./errors.js";
import { TypeRegistry } from "./keys.js";
import { resolveSourceOptions, type ResolvedSourceOptions, type UwsgiStatsSourceOptions } from "./options.js";
import { parseDocument } from "./parse.js";
import { readStats } from "./read.js";
import { applyVarsPolicy } from "./redact.js";
import { num } from "./shapes/fields.js";
import { documentItems } from "./shapes/items.js";
import { labelRecord } from "./labels.js";
import { forEachLimited } from "./limit.js";
import type { PollSummary, RecoverInfo, ResetInfo, UwsgiStatsSourceEvents } from "./source-events.js";
import type { SourceStats } from "./source-stats.js";
import { TargetRegistry, type ResolvedTarget } from "./targets.js";

export type { PollSummary, RecoverInfo, ResetInfo, UwsgiStatsSourceEvents } from "./source-events.js";
export type { SourceStats, TargetStats } from "./source-stats.js";

/** The listener type of `event`: typed for the source's own events, any for Readable's. */
type SourceListener<E> = E extends keyof UwsgiStatsSourceEvents
  ? UwsgiStatsSourceEvents[E]
  : // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (...args: any[]) => void;

/**
 * Polls uWSGI stats servers and produces `{ tag, time, record }` items: a Readable (objectMode) to pipe into
 * a `ForwardSink`, a `poll()` method for one-off reads, and the events of UwsgiStatsSourceEvents. Per-target
 * failures become `uwsgi.error` records and `targetError` events, never exceptions. Reading starts with `start()` (or the first read from the stream) and ends with `stop()`.
 */
export class UwsgiStatsSource extends Readable {
  /** The validated options with defaults applied. */
  readonly options: ResolvedSourceOptions;
  readonly #targets: TargetRegistry;
  readonly #types = new TypeRegistry();
  #abort = newAbortController();
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;
  #stopped = false;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  #origin = 0;
  #tick = 0;
  #skipped = 0;
  #needDrain = false;
  #polls = 0;
  #skippedTotal = 0;
  #records = 0;
  #lastPoll: PollSummary | undefined;
  /** Targets the previous poll resolved to; NO_TARGETS is reported when this becomes 0. */
  #matched: number | undefined;

  constructor(options: UwsgiStatsSourceOptions) {
    super({ objectMode: true, highWaterMark: 1024 });
    this.options = resolveSourceOptions(options);
    this.#targets = new TargetRegistry(this.options.targets);
  }

  /** Adds a listener; the source's own events (UwsgiStatsSourceEvents) are typed, Readable's keep theirs. */
  override on<E extends string | symbol>(event: E, listener: SourceListener<E>): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener, typed as `on`. */
  override once<E extends string | symbol>(event: E, listener: SourceListener<E>): this {
    return super.once(event, listener);
  }

  /**
   * Emits one of the source's own events in the middle of a poll. A listener that throws must not cost the
   * poll its other items, so its exception is re-thrown on the next tick, as the sink does.
   */
  #notify<E extends keyof UwsgiStatsSourceEvents>(
    event: E,
    ...args: Parameters<UwsgiStatsSourceEvents[E]>
  ): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /**
   * Polls every target once and resolves to the items of that poll (never rejects). Items are emitted as
   * `record` events; only scheduled polls (after `start()`) also push them into the stream. Polls never
   * overlap: a call during a poll runs after it.
   */
  poll(): Promise<ForwardItem[]> {
    return this.#enqueue(false);
  }

  /** Starts polling every `intervalMs` on a fixed schedule (ticks missed by a long poll are skipped, not queued). */
  start(): this {
    if (this.#stopped)
      throw new UwsgiStatsError(Code.STOPPED, "", "start() after stop(): create a new UwsgiStatsSource");
    if (this.#running) return this;
    this.#running = true;
    this.#origin = performance.now();
    this.#tick = 0;
    this.#timer = setTimeout(() => void this.#onTick(), 0);
    return this;
  }

  /** Stops polling, aborts reads in flight, waits for the current poll to end, and ends the stream. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#chain;
    this.#abort = newAbortController();
    if (!this.#ended) {
      this.#ended = true;
      this.push(null);
    }
  }

  /**
   * Totals since the source was created, the last poll, and each known target's health (up, reads, failures,
   * last read duration): what a readiness check or a metrics endpoint reads, at any time, without a poll.
   */
  stats(): SourceStats {
    return {
      polls: this.#polls,
      skippedTicks: this.#skippedTotal,
      records: this.#records,
      lastPoll: this.#lastPoll,
      targets: [...this.#targets.entries()].map(([target, s]) => ({
        target,
        up: s.up,
        stale: s.stale,
        reads: s.reads,
        failures: s.failures,
        failedPolls: s.failedPolls,
        lastCode: s.lastCode,
        lastDurationMs: s.lastDurationMs,
        lastSuccessAt: s.lastSuccessAt,
      })),
    };
  }

  override _read(): void {
    this.#needDrain = false;
    if (!this.#running && !this.#stopped) this.start();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopped = true;
    this.#running = false;
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    callback(error);
  }

  async #onTick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#running) return;
    if (this.#needDrain) this.#skipped++;
    else await this.#enqueue(true);
    if (!this.#running) return;
    const interval = this.options.intervalMs;
    const now = performance.now();
    const next = Math.max(this.#tick + 1, Math.floor((now - this.#origin) / interval) + 1);
    this.#skipped += next - this.#tick - 1;
    this.#tick = next;
    this.#timer = setTimeout(() => void this.#onTick(), Math.max(0, this.#origin + next * interval - now));
  }

  #enqueue(push: boolean): Promise<ForwardItem[]> {
    const run = this.#chain.then(() => this.#pollOnce(push));
    this.#chain = run.catch(() => undefined);
    return run.catch(() => []);
  }

  async #pollOnce(push: boolean): Promise<ForwardItem[]> {
    const started = Date.now();
    const t0 = performance.now();
    const droppedBefore = this.#types.dropped;
    const signal = this.#abort.signal;
    const items: ForwardItem[] = [];
    const deliver = (batch: ForwardItem[]): void => {
      for (const shaped of batch) {
        const item: ForwardItem = { ...shaped, record: labelRecord(this.options.labels, shaped.record) };
        items.push(item);
        this.#notify("record", item);
        if (push && !this.#ended && !this.push(item)) this.#needDrain = true;
      }
    };
    const { targets, errors } = await this.#targets.resolve();
    // Globs that match nothing are a finding: counted as a failure on every such poll, reported on the first.
    const matchedNothing = targets.length === 0 && errors.length === 0;
    if (matchedNothing && this.#matched !== 0) errors.push(this.#noTargetsError());
    this.#matched = targets.length;
    for (const err of errors) {
      this.#notify("targetError", err, err.target);
      deliver([this.#errorItem(err, false)]);
    }
    let ok = 0;
    let failed = matchedNothing ? 1 : errors.length;
    await forEachLimited(targets, this.options.concurrency, async (target) => {
      const result = await this.#pollTarget(target, signal);
      if (result.ok) ok++;
      else failed++;
      deliver(result.items);
    });
    const droppedFields = this.#types.dropped - droppedBefore;
    const skippedTicks = this.#skipped;
    this.#skipped = 0;
    this.#skippedTotal += skippedTicks;
    const summary: PollSummary = {
      time: started,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      targets: targets.length,
      ok,
      failed,
      records: items.length,
      skippedTicks,
      droppedFields,
    };
    this.#polls++;
    this.#records += items.length;
    this.#lastPoll = summary;
    this.#notify("poll", summary);
    return items;
  }

  async #pollTarget(
    target: ResolvedTarget,
    signal: AbortSignal,
  ): Promise<{ ok: boolean; items: ForwardItem[] }> {
    const name = target.target;
    const t0 = performance.now();
    const took = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
    try {
      const reply = await readStats(name, target.address, this.options, signal);
      const { doc, repaired, nonFinite } = parseDocument(name, reply.body, this.options);
      this.#types.dropped += nonFinite;
      const health = this.#targets.succeeded(name, reply.time);
      if (health.kind === "recovered") {
        const { kind: _kind, ...info } = health;
        this.#notify("recover", name, info satisfies RecoverInfo);
      }
      const items = this.#shape(target, doc, repaired, reply.time, reply.monotonic);
      this.#targets.state(name).lastDurationMs = took();
      return { ok: true, items };
    } catch (caught) {
      if (signal.aborted) return { ok: false, items: [] };
      const err =
        caught instanceof UwsgiStatsError
          ? caught
          : new UwsgiStatsError(
              Code.INTERNAL,
              name,
              `internal error while reading ${name}: ${String(caught)}`,
              {
                cause: caught,
              },
            );
      const health = this.#targets.failed(target, err, Date.now());
      const state = this.#targets.known(name); // a vanished glob target is forgotten: no state to update
      if (state) state.lastDurationMs = took();
      if (health.kind === "quiet") return { ok: false, items: [] };
      if (health.kind === "stale") this.#notify("stale", err, name);
      this.#notify("targetError", err, name);
      return { ok: false, items: [this.#errorItem(err, health.kind === "stale")] };
    }
  }

  #shape(
    target: ResolvedTarget,
    doc: Record<string, unknown>,
    repaired: boolean,
    time: number,
    monotonic: number,
  ): ForwardItem[] {
    const name = target.target;
    applyVarsPolicy(doc, this.options.vars);
    const state = this.#targets.state(name);
    const { items, reset } = documentItems(
      doc,
      name,
      repaired,
      time,
      monotonic,
      state,
      this.options,
      this.#types,
    );
    if (reset) this.#notify("reset", name, { kind: reset, pid: num(doc.pid) } satisfies ResetInfo);
    return items;
  }

  /** The finding of a poll whose globs matched no socket (only globs resolve to nothing). */
  #noTargetsError(): UwsgiStatsError {
    const patterns = this.options.targets.map((t) => (t.kind === "glob" ? t.prefix + t.pattern : t.target));
    const list = patterns.join(", ");
    return new UwsgiStatsError(
      Code.NO_TARGETS,
      list,
      `no socket matches ${list}: nothing to poll (reported again only after a match comes and goes)`,
    );
  }

  #errorItem(err: UwsgiStatsError, stale: boolean): ForwardItem {
    return {
      tag: this.options.tags.error,
      time: Date.now(),
      record: {
        target: err.target,
        code: err.code,
        message: err.message,
        excerpt: err.excerpt,
        bytes: err.bytes,
        stale,
      },
    };
  }
}

function newAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
