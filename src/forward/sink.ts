import { Writable } from "node:stream";
import { Packr } from "msgpackr";
import { InvalidOptionError } from "../errors.js";
import type { EventRecord, EventTimeInput, ForwardItem } from "../item.js";
import { describe } from "../options.js";
import { Batch } from "./batch.js";
import { FrameBuffer } from "./buffer.js";
import { MAX_TIME_SIZE } from "./encoder.js";
import { ForwardCloseTimeoutError, ForwardInvalidRecordError, type ForwardError } from "./errors.js";
import { fractionNanos } from "./event-time.js";
import { newChunkId, type Frame } from "./frame.js";
import { resolveOptions, type ForwardSinkOptions, type ResolvedOptions } from "./options.js";
import { ServerPool, type ServerInfo, type ServerStats } from "./server-pool.js";

/** Why events were dropped: `overflow` (buffer limit), `closed` (emitted after close, or undelivered at close). */
export type DropReason = "overflow" | "closed";

/** Payload of the `drop` event. Drops are coalesced: one event per reason per tick. */
export interface DropInfo {
  count: number;
  reason: DropReason;
}

/** Payload of the `ack` event (only with `requireAck`). */
export interface AckInfo {
  server: ServerInfo;
  /** The chunk id that was acknowledged. */
  chunk: string;
  /** Events in the acknowledged frame. */
  events: number;
  /** Time from write to ack. */
  latencyMs: number;
}

/** Figures returned by `sink.stats()`. Event counts unless named otherwise. */
export interface SinkStats {
  /** Events accepted by `emit()` / `write()`. */
  emitted: number;
  /** Events written to a server for the first time. */
  sent: number;
  /** Events acknowledged by a server (`requireAck` only). */
  acked: number;
  /** Events written again after an ack timeout, a disconnect or a failover. */
  retried: number;
  /** Events dropped (overflow policy, emitted after close, undelivered at close). */
  dropped: number;
  /** Bytes held: open batches plus frames not yet acknowledged (or written, without acks). */
  bufferedBytes: number;
  /** Events held, as above. */
  bufferedEvents: number;
  /** Frames not yet acknowledged / written. */
  bufferedFrames: number;
  /** Per server: health, last error, connects, ack latency. */
  servers: ServerStats[];
}

/** What `close()` could not do. */
export interface CloseReport {
  /** True when every emitted event was delivered (acknowledged, or written without acks). */
  delivered: boolean;
  /** True when `timeoutMs` passed before everything was delivered. */
  timedOut: boolean;
  /** Events that were never delivered (now dropped). */
  undeliveredEvents: number;
  /** Frames that were never delivered. */
  undeliveredFrames: number;
  /** Bytes that were never delivered. */
  undeliveredBytes: number;
  /** `FORWARD_CLOSE_TIMEOUT` when something was left undelivered. */
  error: ForwardCloseTimeoutError | undefined;
}

/** Options of `sink.close()`. */
export interface CloseOptions {
  /** Longest time to wait for the buffer to drain before giving up. Default `10000` ms. */
  timeoutMs?: number;
}

/**
 * The events of a ForwardSink and their listener signatures (`sink.on(name, listener)` is typed by this map).
 * Besides these, Node's Writable events (`finish`, `pipe`, `unpipe`) keep their usual meaning.
 */
export interface ForwardSinkEvents {
  /** A connection to `server` is established (handshake included) and takes frames. */
  connect: (server: ServerInfo) => void;
  /** A connection that was up ended; `reason` is undefined for an expected close (ours, or `keepalive: false`). */
  disconnect: (server: ServerInfo, reason: Error | undefined) => void;
  /** A recoverable transport or auth problem (stable `code`); reported once per server until it is healthy again. */
  serverError: (error: ForwardError, server: ServerInfo) => void;
  /** A frame was acknowledged (`requireAck` only). */
  ack: (info: AckInfo) => void;
  /** Events were dropped (overflow policy or close); coalesced per reason per tick. */
  drop: (info: DropInfo) => void;
  /** A `flush()` call completed. */
  flush: () => void;
  /** `emit()` returned false earlier and the buffer is below half its limit again (also Writable's drain). */
  drain: () => void;
  /** Fatal to the stream only: a malformed item written through the Writable interface. Never a server problem. */
  error: (error: Error) => void;
  /** The sink is closed (after `close()` or `destroy()`). */
  close: () => void;
}

function isPlainObject(value: unknown): value is EventRecord {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const MAX_SECONDS = 0xffffffff;
const NO_CHUNK = (): undefined => undefined;
/**
 * msgpackr's REUSE_BUFFER_MODE | RESET_BUFFER_MODE: `pack` returns its own scratch buffer with `start`/`end`
 * and reuses it next time, so encoding allocates nothing; the bytes are copied into the batch at once.
 */
const REUSE_AND_RESET = 512 | 1024;
type PackTarget = Buffer & { start: number; end: number };

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
  private readonly packr = new Packr({
    useRecords: false,
    encodeUndefinedAsNil: true,
    variableMapSize: true,
  });
  private readonly pool: ServerPool;
  private readonly buffer = new FrameBuffer();
  private readonly batches = new Map<string, Batch>();
  private readonly chunkId: () => string | undefined;
  private readonly highWater: number;
  private lastTag = "";
  private lastBatch: Batch | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private dispatching = false;
  private started = false;
  private needDrain = false;
  private blocked: { item: ForwardItem; cb: (err?: Error | null) => void } | undefined;
  private flushWaiters: { target: number; resolve: () => void }[] = [];
  private drops: Record<DropReason, number> = { overflow: 0, closed: 0 };
  private dropTimer: NodeJS.Immediate | undefined;
  private closing = false;
  private closePromise: Promise<CloseReport> | undefined;
  private readonly counters = { emitted: 0, sent: 0, acked: 0, retried: 0, dropped: 0 };

  /** Validates the options (throws `INVALID_OPTION` naming the option); connects on the first event. */
  constructor(options: ForwardSinkOptions = {}) {
    super({ objectMode: true });
    this.opts = resolveOptions(options);
    const o = this.opts;
    this.chunkId = o.requireAck ? newChunkId : NO_CHUNK;
    this.highWater = Math.floor(o.bufferLimitBytes / 2);
    const maxInFlightBytes = Math.max(16 * 1024 * 1024, o.batch.maxBytes * 4);
    this.pool = new ServerPool(
      o.servers.map((s) => {
        const id = s.path ?? `${s.host}:${s.port}`;
        return {
          info: Object.freeze({
            id,
            host: s.host,
            port: s.port,
            path: s.path,
            tls: s.tls !== undefined,
            weight: s.weight,
            standby: s.standby,
          }),
          options: {
            host: s.host,
            port: s.port,
            path: s.path,
            tls: s.tls,
            credentials:
              s.sharedKey === undefined
                ? undefined
                : {
                    selfHostname: o.selfHostname,
                    sharedKey: s.sharedKey,
                    username: s.username,
                    password: s.password,
                  },
            selfHostname: o.selfHostname,
            connectTimeoutMs: o.connectTimeoutMs,
            ackTimeoutMs: o.ackTimeoutMs,
            requireAck: o.requireAck,
            maxInFlightBytes,
            label: `${s.tls ? "tls://" : s.path ? "unix://" : "tcp://"}${id}`,
          },
        };
      }),
      o.reconnect,
      o.requireAck,
    );
    this.pool.on("connect", (server) => super.emit("connect", server));
    this.pool.on("disconnect", (server, reason) => super.emit("disconnect", server, reason));
    this.pool.on("serverError", (err, server) => super.emit("serverError", err, server));
    this.pool.on("settled", (frame, server, latencyMs) => this.onSettled(frame, server, latencyMs));
    this.pool.on("requeue", (frames) => {
      this.buffer.requeue(frames);
      this.dispatch();
    });
    this.pool.on("writable", () => this.dispatch());
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
    if (typeof event === "string" && args.length <= 2 && isPlainObject(args[0])) {
      return this.send(event, args[0], args[1] as EventTimeInput | undefined, false);
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

  private send(tag: string, record: EventRecord, time: EventTimeInput | undefined, force: boolean): boolean {
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
    let seconds: number;
    let nanos: number;
    if (time === undefined) {
      const ms = Date.now();
      seconds = Math.floor(ms / 1000);
      nanos = (ms - seconds * 1000) * 1_000_000;
    } else if (typeof time === "number") {
      if (!(time >= 0 && time < (MAX_SECONDS + 1) * 1000)) {
        throw new ForwardInvalidRecordError(`time must be epoch milliseconds from 0 to 2^32 s, got ${time}`);
      }
      seconds = Math.floor(time / 1000);
      nanos = fractionNanos(time, seconds);
    } else if (time instanceof Date) {
      const ms = time.getTime();
      if (!(ms >= 0 && ms < (MAX_SECONDS + 1) * 1000)) {
        throw new ForwardInvalidRecordError(
          `time must be a valid Date from 1970 to 2106, got ${String(time)}`,
        );
      }
      seconds = Math.floor(ms / 1000);
      nanos = fractionNanos(ms, seconds);
    } else if (typeof time === "object" && time !== null) {
      seconds = time.seconds;
      nanos = time.nanoseconds;
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_SECONDS) {
        throw new ForwardInvalidRecordError(
          `time.seconds must be an integer from 0 to ${MAX_SECONDS}, got ${seconds}`,
        );
      }
      if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
        throw new ForwardInvalidRecordError(
          `time.nanoseconds must be an integer from 0 to 999999999, got ${nanos}`,
        );
      }
    } else {
      throw new ForwardInvalidRecordError(
        `time must be a Date, epoch milliseconds or an EventTime, got ${typeof time}`,
      );
    }

    let encoded: PackTarget;
    try {
      encoded = this.packr.pack(record, REUSE_AND_RESET) as PackTarget;
    } catch (err) {
      throw new ForwardInvalidRecordError(`record cannot be encoded as msgpack: ${String(err)}`, err);
    }
    const size = 1 + MAX_TIME_SIZE + encoded.end - encoded.start;
    const limit = this.opts.bufferLimitBytes;
    if (this.buffer.bytes + size > limit && !force && !this.makeRoom(size)) {
      this.countDrop(1, "overflow");
      this.needDrain = true;
      return false;
    }

    let batch = this.lastBatch;
    if (tag !== this.lastTag || batch === undefined) {
      batch = this.batches.get(tag);
      if (batch === undefined) {
        const { mode, eventTime, batch: b } = this.opts;
        batch = new Batch(tag, mode, eventTime, Math.min(b.maxBytes + 1024, 64 * 1024));
        this.batches.set(tag, batch);
      }
      this.lastTag = tag;
      this.lastBatch = batch;
    }
    const { maxEvents, maxBytes, maxDelayMs } = this.opts.batch;
    if (batch.count > 0 && batch.bytes + size > maxBytes) this.seal(batch);
    if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined;
        this.sealAll();
      }, maxDelayMs);
    }
    const added = batch.append(seconds, nanos, encoded, encoded.start, encoded.end);
    this.buffer.openBytes += added;
    this.buffer.openEvents++;
    this.counters.emitted++;
    if (batch.count >= maxEvents || batch.bytes >= maxBytes) this.seal(batch);
    if (this.buffer.bytes >= this.highWater) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** dropOldest: frees room by dropping the oldest frames not yet sent. */
  private makeRoom(size: number): boolean {
    if (this.opts.overflow !== "dropOldest") return false;
    const limit = this.opts.bufferLimitBytes;
    let dropped = this.buffer.dropOldestPending(this.buffer.bytes + size - limit);
    if (this.buffer.bytes + size > limit) {
      for (const batch of this.batches.values()) this.sealBatch(batch);
      const more = this.buffer.dropOldestPending(this.buffer.bytes + size - limit);
      dropped = { frames: dropped.frames + more.frames, events: dropped.events + more.events };
    }
    if (dropped.events > 0) {
      this.countDrop(dropped.events, "overflow");
      this.checkFlushWaiters();
    }
    return this.buffer.bytes + size <= limit;
  }

  private sealBatch(batch: Batch): void {
    if (batch.count === 0) return;
    const bytes = batch.bytes;
    const events = batch.count;
    const sealed = batch.seal(this.chunkId);
    this.buffer.openBytes -= bytes;
    this.buffer.openEvents -= events;
    for (const s of sealed) {
      const frame: Frame = {
        seq: ++this.seq,
        bytes: s.bytes,
        events: s.events,
        chunk: s.chunk,
        attempts: 0,
        sentAt: 0,
        settled: false,
      };
      this.buffer.add(frame);
    }
  }

  private seal(batch: Batch): void {
    this.sealBatch(batch);
    this.dispatch();
  }

  private sealAll(): void {
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    for (const batch of this.batches.values()) this.sealBatch(batch);
    if (this.batches.size > 256) {
      for (const [tag, batch] of this.batches)
        if (batch.count === 0 && batch !== this.lastBatch) this.batches.delete(tag);
    }
    this.dispatch();
  }

  /** Hands pending frames to the servers while some connection can take them. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let frame = this.buffer.peek(); frame !== undefined; frame = this.buffer.peek()) {
        if (frame.settled) {
          this.buffer.shift();
          continue;
        }
        const first = frame.attempts === 0;
        if (!this.pool.send(frame)) break;
        this.buffer.shift();
        if (first) this.counters.sent += frame.events;
        else this.counters.retried += frame.events;
      }
      if (this.buffer.pendingCount > 0 && !this.closePromise) this.pool.demand();
    } finally {
      this.dispatching = false;
    }
  }

  private onSettled(frame: Frame, server: ServerInfo, latencyMs: number): void {
    if (!this.buffer.settle(frame)) return;
    if (this.opts.requireAck) {
      this.counters.acked += frame.events;
      if (this.listenerCount("ack") > 0) {
        super.emit("ack", { server, chunk: frame.chunk!, events: frame.events, latencyMs } satisfies AckInfo);
      }
    }
    this.checkFlushWaiters();
    this.checkRoom();
  }

  private checkRoom(): void {
    const bytes = this.buffer.bytes;
    if (this.blocked && bytes < this.opts.bufferLimitBytes) {
      const { item, cb } = this.blocked;
      this.blocked = undefined;
      this.writeItem(item, cb);
    }
    if (this.needDrain && bytes < this.highWater) {
      this.needDrain = false;
      super.emit("drain");
    }
  }

  private checkFlushWaiters(): void {
    const oldest = this.buffer.oldestSeq;
    while (this.flushWaiters.length > 0 && this.flushWaiters[0]!.target < oldest) {
      this.flushWaiters.shift()!.resolve();
    }
  }

  private countDrop(count: number, reason: DropReason): void {
    this.counters.dropped += count;
    this.drops[reason] += count;
    if (this.dropTimer === undefined) this.dropTimer = setImmediate(() => this.emitDrops());
  }

  private emitDrops(): void {
    if (this.dropTimer !== undefined) clearImmediate(this.dropTimer);
    this.dropTimer = undefined;
    for (const reason of ["overflow", "closed"] as const) {
      const count = this.drops[reason];
      if (count > 0) {
        this.drops[reason] = 0;
        super.emit("drop", { count, reason } satisfies DropInfo);
      }
    }
  }

  /** Writable side: validates the item; with `overflow: "block"` waits while the buffer is full. */
  override _write(item: ForwardItem, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (
      typeof item !== "object" ||
      item === null ||
      typeof item.tag !== "string" ||
      item.tag.length === 0 ||
      !isPlainObject(item.record)
    ) {
      cb(
        new ForwardInvalidRecordError(
          "expected an item { tag: non-empty string, record: plain object, time? }",
        ),
      );
      return;
    }
    if (this.opts.overflow === "block" && !this.closing && this.buffer.bytes >= this.opts.bufferLimitBytes) {
      this.blocked = { item, cb };
      return;
    }
    this.writeItem(item, cb);
  }

  private writeItem(item: ForwardItem, cb: (err?: Error | null) => void): void {
    try {
      this.send(item.tag, item.record, item.time, this.opts.overflow === "block");
    } catch (err) {
      cb(err as Error);
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
    this.sealAll();
    const target = this.seq;
    if (this.closing || this.buffer.oldestSeq > target) {
      super.emit("flush");
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.flushWaiters.push({
        target,
        resolve: () => {
          super.emit("flush");
          resolve();
        },
      });
    });
  }

  /**
   * Flushes, then closes every connection. Never takes longer than `timeoutMs` (default 10000); reports what
   * could not be delivered (those events are counted as dropped, reason `closed`). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.closePromise) return this.closePromise;
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(
        new InvalidOptionError("timeoutMs", `expected an integer >= 0, got ${describe(options.timeoutMs)}`),
      );
    }
    this.closePromise = (async () => {
      if (!this.closing) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.flush().then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        void timedOut;
      }
      return this.shutdown();
    })();
    return this.closePromise;
  }

  private finalReport: CloseReport | undefined;

  private shutdown(): CloseReport {
    if (this.finalReport) return this.finalReport;
    this.closing = true;
    this.sealAll();
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.pool.close();
    const undeliveredEvents = this.buffer.frameEvents;
    const undeliveredFrames = this.buffer.frameCount;
    const undeliveredBytes = this.buffer.frameBytes;
    for (const frame of [...this.buffer.all()]) this.buffer.settle(frame);
    this.buffer.drainPending();
    if (undeliveredEvents > 0) this.countDrop(undeliveredEvents, "closed");
    if (this.blocked) {
      const { cb } = this.blocked;
      this.blocked = undefined;
      this.countDrop(1, "closed");
      cb();
    }
    this.emitDrops();
    for (const w of this.flushWaiters.splice(0)) w.resolve();
    const delivered = undeliveredEvents === 0;
    this.finalReport = {
      delivered,
      timedOut: !delivered,
      undeliveredEvents,
      undeliveredFrames,
      undeliveredBytes,
      error: delivered
        ? undefined
        : new ForwardCloseTimeoutError(
            `closed with ${undeliveredEvents} events (${undeliveredFrames} frames, ${undeliveredBytes} bytes) undelivered`,
          ),
    };
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
