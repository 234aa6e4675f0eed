import { Writable } from "node:stream";
import { InvalidOptionError } from "../errors.js";
import type { EventRecord, EventTimeInput, ForwardItem } from "../item.js";
import { BufferAdmission } from "./admission.js";
import { Batcher } from "./batcher.js";
import { FrameBuffer } from "./buffer.js";
import { closeReport, closeTimeoutMs, raceTimeout } from "./close-report.js";
import { FrameDispatcher } from "./dispatcher.js";
import { DropReporter } from "./drops.js";
import { ForwardInvalidRecordError } from "./errors.js";
import { readTime, type TimeParts } from "./event-time.js";
import { FlushWaiters } from "./flush-waiters.js";
import { isForwardItem, isPlainRecord } from "./item-shape.js";
import type { Frame } from "./frame.js";
import type {
  AckInfo,
  CloseOptions,
  CloseReport,
  DropReason,
  ForwardSinkEvents,
  SinkStats,
} from "./sink-types.js";
import { resolveOptions, type ForwardSinkOptions, type ResolvedOptions } from "./options.js";
import { poolServers } from "./server-config.js";
import { ServerPool, type ServerInfo } from "./server-pool.js";

/** Reused by every `emit()`: the time of the event being encoded. */
const scratchTime: TimeParts = { seconds: 0, nanos: 0 };

/**
 * Sends events to Fluentd, td-agent or Fluent Bit over the Forward protocol v1.
 *
 * `sink.emit(tag, record, time?)` encodes synchronously into a per-tag batch and returns false when the caller
 * should slow down; the sink is also an object-mode Writable of `{ tag, record, time? }` for `pipeline()`.
 * Events: `connect` (server), `disconnect` (server, reason), `ack` (AckInfo), `drop` (DropInfo), `flush`,
 * `serverError` (err, server) for every recoverable problem; `error` only for a malformed item written
 * through the Writable interface.
 */
export class ForwardSink extends Writable {
  private readonly opts: ResolvedOptions;
  private readonly pool: ServerPool;
  private readonly buffer = new FrameBuffer();
  private readonly batcher: Batcher;
  private readonly admission: BufferAdmission;
  private readonly dispatcher: FrameDispatcher;
  private started = false;
  /** block: the item written while the buffer had no room for it, and its encoded size (0 = not known). */
  private blocked: { item: ForwardItem; cb: (err?: Error | null) => void; size: number } | undefined;
  private readonly flushWaiters = new FlushWaiters();
  private readonly drops = new DropReporter((info) => this.notify("drop", info));
  private closing = false;
  private closePromise: Promise<CloseReport> | undefined;
  private readonly counters = { emitted: 0, sent: 0, acked: 0, retried: 0, dropped: 0 };

  /** Validates the options (throws `INVALID_OPTION` naming the option); connects on the first event. */
  constructor(options: ForwardSinkOptions = {}) {
    super({ objectMode: true });
    this.opts = resolveOptions(options);
    const o = this.opts;
    this.batcher = new Batcher(o, this.buffer, () => this.dispatcher.dispatch());
    this.admission = new BufferAdmission(o, this.buffer, this.batcher, {
      overflowed: (count) => this.countDrop(count, "overflow"),
      oldestDropped: () => this.checkFlushWaiters(),
    });
    this.pool = new ServerPool(poolServers(o), o.reconnect, o.requireAck);
    this.dispatcher = new FrameDispatcher(this.buffer, this.pool, this.counters);
    this.pool.on("connect", (server) => this.notify("connect", server));
    this.pool.on("disconnect", (server, reason) => this.notify("disconnect", server, reason));
    this.pool.on("serverError", (err, server) => this.notify("serverError", err, server));
    this.pool.on("settled", (frame, server, latencyMs) => this.onSettled(frame, server, latencyMs));
    this.pool.on("requeue", (frames) => {
      this.buffer.requeue(frames);
      this.dispatcher.dispatch();
    });
    this.pool.on("writable", () => this.dispatcher.dispatch());
  }

  /**
   * Sends an event when called as `emit(tag: string, record: plain object, time?)` — synchronously validated
   * and encoded into the tag's batch; returns false when the caller should slow down (buffer past half its
   * limit, or the event was dropped). Throws `FORWARD_INVALID_RECORD` for a bad time or an unencodable record.
   * Records should hold JSON-like values (a `Date` would travel as msgpack timestamp ext -1, which Fluentd does
   * not decode: send it as a string). Any other call is EventEmitter's `emit`.
   */
  override emit(tag: string, record: EventRecord, time?: EventTimeInput): boolean;
  /** EventEmitter's emit, for stream internals and notifications. */
  override emit(event: string | symbol, ...args: unknown[]): boolean;
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (typeof event === "string" && args.length <= 2 && isPlainRecord(args[0])) {
      return this.accept(event, args[0], args[1] as EventTimeInput | undefined, false);
    }
    return super.emit(event, ...args);
  }

  /** Adds a listener; typed for the sink's own events (see ForwardSinkEvents). */
  override on<E extends keyof ForwardSinkEvents>(event: E, listener: ForwardSinkEvents[E]): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener; typed for the sink's own events (see ForwardSinkEvents). */
  override once<E extends keyof ForwardSinkEvents>(event: E, listener: ForwardSinkEvents[E]): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /**
   * Emits one of the sink's own events from inside socket and timer callbacks. A listener that throws must not
   * leave the sink half-updated, so its exception is re-thrown on the next tick, as Node does for listeners.
   */
  private notify(event: keyof ForwardSinkEvents, ...args: unknown[]): void {
    try {
      super.emit(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /**
   * Sends an event: validated and encoded synchronously into the tag's batch. Returns false when the caller
   * should slow down (buffer past half its limit, or the event was dropped). Throws FORWARD_INVALID_RECORD
   * for an empty tag, a bad time or an unencodable record.
   */
  send(tag: string, record: EventRecord, time?: EventTimeInput): boolean {
    return this.accept(tag, record, time, false);
  }

  private accept(
    tag: string,
    record: EventRecord,
    time: EventTimeInput | undefined,
    force: boolean,
    floatFields?: ReadonlySet<string>,
  ): boolean {
    if (this.closing) {
      this.countDrop(1, "closed");
      return false;
    }
    if (!this.started) {
      // Connect while the first batch fills.
      this.started = true;
      this.pool.demand();
    }
    if (tag.length === 0) throw new ForwardInvalidRecordError("tag must be a non-empty string");
    readTime(time, scratchTime);
    const admission = this.admission.admit(tag, scratchTime, record, force, floatFields);
    if (admission === "accepted" || admission === "slowDown") this.counters.emitted++;
    return admission === "accepted";
  }

  private onSettled(frame: Frame, server: ServerInfo, latencyMs: number): void {
    if (!this.buffer.settle(frame)) return;
    // The server has every byte of the frame: its buffer may carry the next batch.
    this.batcher.recycle(frame);
    if (this.opts.requireAck) {
      this.counters.acked += frame.events;
      if (this.listenerCount("ack") > 0) {
        this.notify("ack", {
          server,
          chunk: frame.chunk!,
          events: frame.events,
          latencyMs,
        } satisfies AckInfo);
      }
    }
    this.checkFlushWaiters();
    this.checkRoom();
  }

  private checkRoom(): void {
    const blocked = this.blocked;
    if (blocked && this.admission.fits(blocked.size)) {
      const { item, cb } = blocked;
      this.blocked = undefined;
      this.writeItem(item, cb);
    }
    if (this.admission.takeDrain(this.buffer.bytes)) this.notify("drain");
  }

  private checkFlushWaiters(): void {
    this.flushWaiters.releaseBefore(this.buffer.oldestSeq);
  }

  private countDrop(count: number, reason: DropReason): void {
    this.counters.dropped += count;
    this.drops.add(count, reason);
  }

  /** Writable side: validates the item; with `overflow: "block"` waits while the buffer is full. */
  override _write(item: ForwardItem, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!isForwardItem(item)) {
      cb(
        new ForwardInvalidRecordError(
          "expected an item { tag: non-empty string, record: plain object, time? }",
        ),
      );
      return;
    }
    if (this.opts.overflow === "block" && !this.closing && this.admission.atLimit) {
      this.blocked = { item, cb, size: 0 };
      return;
    }
    this.writeItem(item, cb);
  }

  private writeItem(item: ForwardItem, cb: (err?: Error | null) => void): void {
    try {
      this.accept(item.tag, item.record, item.time, this.opts.overflow === "block", item.floatFields);
    } catch (err) {
      cb(err as Error);
      return;
    }
    const heldSize = this.admission.takeHeldSize();
    if (heldSize > 0) {
      this.blocked = { item, cb, size: heldSize };
      return;
    }
    cb();
  }

  /** Writable side: `end()` finishes once everything is delivered. */
  override _final(cb: (err?: Error | null) => void): void {
    this.flush().then(() => cb(), cb);
  }

  /** Writable side: `destroy()` closes every connection at once. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.shutdown();
    cb(err);
  }

  /**
   * Resolves when every event emitted so far has been delivered: written to a server, or acknowledged with
   * `requireAck`. Never rejects; resolves at `close()` even if undelivered. Emits `flush` when it resolves.
   */
  flush(): Promise<void> {
    this.batcher.sealAll();
    const target = this.batcher.seq;
    if (this.closing || this.buffer.oldestSeq > target) {
      super.emit("flush");
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.flushWaiters.add(target, () => {
        this.notify("flush");
        resolve();
      });
    });
  }

  /**
   * Flushes, then closes every connection. Never takes longer than `timeoutMs` (default 10000); reports what
   * could not be delivered (those events are counted as dropped, reason `closed`). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.closePromise) return this.closePromise;
    const timeoutMs = closeTimeoutMs(options);
    if (timeoutMs instanceof InvalidOptionError) return Promise.reject(timeoutMs);
    this.closePromise = (async () => {
      if (!this.closing) {
        // Servers waiting out a backoff may be back: try them now rather than after the deadline.
        if (this.buffer.frameCount + this.buffer.openEvents > 0) this.pool.probeDown();
        await raceTimeout(this.flush(), timeoutMs);
      }
      return this.shutdown();
    })();
    return this.closePromise;
  }

  private finalReport: CloseReport | undefined;

  private shutdown(): CloseReport {
    if (this.finalReport) return this.finalReport;
    this.closing = true;
    this.batcher.sealOpen();
    this.pool.close();
    const undelivered = {
      events: this.buffer.frameEvents,
      frames: this.buffer.frameCount,
      bytes: this.buffer.frameBytes,
    };
    for (const frame of [...this.buffer.all()]) this.buffer.settle(frame);
    this.buffer.drainPending();
    if (undelivered.events > 0) this.countDrop(undelivered.events, "closed");
    if (this.blocked) {
      const { cb } = this.blocked;
      this.blocked = undefined;
      this.countDrop(1, "closed");
      cb();
    }
    this.drops.flush();
    this.flushWaiters.releaseAll();
    this.finalReport = closeReport(undelivered);
    if (!this.destroyed) this.destroy();
    return this.finalReport;
  }

  /** Counters, buffer occupancy and per-server health. */
  stats(): SinkStats {
    return {
      ...this.counters,
      bufferedBytes: this.buffer.bytes,
      bufferedEvents: this.buffer.frameEvents + this.buffer.openEvents,
      bufferedFrames: this.buffer.frameCount,
      servers: this.pool.stats(),
    };
  }
}
