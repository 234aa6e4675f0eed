import { Writable } from "node:stream";
import type { EventRecord, EventTimeInput, ForwardItem } from "../item.js";
import { BufferAdmission } from "./batching/admission.js";
import { Batcher } from "./batching/batcher.js";
import { DropReporter } from "./batching/drops.js";
import type { Clock, Timer } from "./clock.js";
import type { Frame } from "./batching/frame.js";
import { ForwardCloseTimeoutError, ForwardInvalidCallError, ForwardInvalidRecordError } from "./errors.js";
import {
  closeTimeoutMs,
  resolveOptions,
  resolveServers,
  type ForwardServerOptions,
  type ForwardSinkOptions,
  type ResolvedOptions,
} from "./options.js";
import { readTime, type TimeParts } from "./protocol/event-time.js";
import { isPlainObject } from "./protocol/plain-object.js";
import { ServerPool, type ServerInfo } from "./servers/server-pool.js";
import { DiskFrameStore } from "./store/disk-store.js";
import type { FrameStore } from "./store/frame-store.js";
import { MemoryFrameStore } from "./store/memory-store.js";
import type {
  AckInfo,
  CloseOptions,
  CloseReport,
  DropReason,
  ForwardSinkEvents,
  SinkStats,
} from "./sink-types.js";

/** Reused by every `send()`: the time of the event being encoded. */
const scratchTime: TimeParts = { seconds: 0, nanos: 0 };

/** Every name `emit()` accepts: the sink's own events and the ones Node's Writable and EventEmitter emit. */
const EVENT_NAMES: ReadonlySet<string> = new Set<
  keyof ForwardSinkEvents | "prefinish" | "newListener" | "removeListener"
>([
  "connect",
  "disconnect",
  "serverError",
  "bufferError",
  "ack",
  "drop",
  "flush",
  "drain",
  "error",
  "close",
  "finish",
  "pipe",
  "unpipe",
  "prefinish",
  "newListener",
  "removeListener",
]);

/** Sinks holding events: one `beforeExit` listener for all of them seals and sends what they hold. */
const holdingSinks = new Set<ForwardSink>();
function flushHoldingSinks(): void {
  for (const sink of holdingSinks) void sink.flush();
}

type Listener<E extends keyof ForwardSinkEvents> = ForwardSinkEvents[E];

/**
 * Sends events to Fluentd, td-agent or Fluent Bit over the Forward protocol v1.
 *
 * `sink.send(tag, record, time?)` encodes synchronously into a per-tag batch and returns false when the caller
 * should slow down; the sink is also an object-mode Writable of `{ tag, record, time? }` for `pipeline()`. `emit`
 * is EventEmitter's only. Events (typed by ForwardSinkEvents): `connect`, `disconnect`, `ack`, `drop`, `flush`,
 * `serverError` for every recoverable problem; `error` only for a malformed item written through the Writable side.
 */
export class ForwardSink extends Writable {
  readonly #opts: ResolvedOptions;
  readonly #pool: ServerPool;
  readonly #buffer: FrameStore;
  readonly #batcher: Batcher;
  readonly #admission: BufferAdmission;
  #started = false;
  #dispatching = false;
  /** True while events are buffered: connections and timers then hold the process. */
  #holding = false;
  /** block: the item written while the buffer had no room for it, and its encoded size (0 = not known). */
  #blocked: { item: ForwardItem; cb: (err?: Error | null) => void; size: number } | undefined;
  readonly #drops = new DropReporter((info) => this.#notify("drop", info));
  #closing = false;
  #closePromise: Promise<CloseReport> | undefined;
  /** Set by `end()`: when it fires, what is still buffered is given up so that `end()` finishes. */
  #endDeadline: Timer | undefined;
  #finalReport: CloseReport | undefined;
  readonly #counters = {
    accepted: 0,
    replayed: 0,
    damagedRecords: 0,
    sent: 0,
    acked: 0,
    retried: 0,
    dropped: 0,
  };
  readonly #droppedBy: Record<DropReason, number> = {
    overflow: 0,
    closed: 0,
    evicted: 0,
    undelivered: 0,
    damaged: 0,
  };

  /**
   * Validates the options (throws `INVALID_OPTION` naming the option); connects on the first event. With
   * `bufferPath`, takes the directory (throws `FORWARD_BUFFER_PATH`, `FORWARD_BUFFER_LOCKED`,
   * `FORWARD_BUFFER_FORMAT`) and connects at once when it holds frames left by a previous sink.
   */
  constructor(options: ForwardSinkOptions = {}) {
    super({ objectMode: true });
    this.#opts = resolveOptions(options);
    const o = this.#opts;
    const disk =
      o.disk === undefined
        ? undefined
        : new DiskFrameStore(o.disk, o.bufferLimitBytes, o.requireAck, {
            letGo: (frame) => this.#batcher.recycle(frame),
            damaged: (events, records) => {
              this.#counters.damagedRecords += records;
              if (events > 0) this.#countDrop(events, "damaged");
            },
            failed: (err) => this.#notify("bufferError", err),
            now: () => o.clock.now(),
          });
    this.#buffer = disk ?? new MemoryFrameStore(o.bufferLimitBytes);
    this.#batcher = new Batcher(
      o,
      this.#buffer,
      () => {
        this.#dispatch();
        this.#checkRoom();
      },
      // Replayed frames are numbered 1 to frameCount.
      this.#buffer.frameCount,
      o.disk?.durability === "event"
        ? (tag, tagBytes, entry) => disk!.logEvent(tag, tagBytes, entry)
        : undefined,
    );
    this.#admission = new BufferAdmission(o, this.#buffer, this.#batcher, {
      overflowed: (count) => this.#countDrop(count, "overflow"),
      evicted: (count) => this.#countDrop(count, "evicted"),
    });
    this.#pool = new ServerPool(o, {
      written: (frame) => {
        if (this.#buffer.written(frame)) this.#counters.sent += frame.events;
      },
      settled: (frame, server, latencyMs) => this.#onSettled(frame, server, latencyMs),
      returned: (frames) => {
        this.#buffer.returned(frames);
        this.#dispatch();
      },
      writable: () => this.#dispatch(),
    });
    this.#pool.on("connect", (server) => this.#notify("connect", server));
    this.#pool.on("disconnect", (server, reason) => this.#notify("disconnect", server, reason));
    this.#pool.on("serverError", (err, server) => this.#notify("serverError", err, server));
    // Events found in bufferPath: the frames to replay, and those of records found damaged (also counted dropped).
    this.#counters.replayed = this.#buffer.frameEvents + this.#droppedBy.damaged;
    if (this.#buffer.frameCount > 0) {
      // Frames left by a previous sink on bufferPath: send them now, before any new event.
      this.#started = true;
      this.#hold();
      this.#pool.demand();
    }
  }

  /** Adds a listener for one of the sink's events (ForwardSinkEvents); an unknown name is a compile error. */
  override on<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.on(event, listener);
  }

  /** Adds a one-time listener for one of the sink's events (ForwardSinkEvents). */
  override once<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.once(event, listener);
  }

  /** Same as `on`. */
  override addListener<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.addListener(event, listener);
  }

  /** Adds a listener called before the others. */
  override prependListener<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.prependListener(event, listener);
  }

  /** Adds a one-time listener called before the others. */
  override prependOnceListener<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.prependOnceListener(event, listener);
  }

  /** Removes a listener. */
  override off<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.off(event, listener);
  }

  /** Removes a listener. */
  override removeListener<E extends keyof ForwardSinkEvents>(event: E, listener: Listener<E>): this {
    return super.removeListener(event, listener);
  }

  /**
   * EventEmitter's `emit`, for the sink's events only: it never sends data (use `send`). Throws
   * `FORWARD_INVALID_CALL` for any other name, so a fluent-logger style `emit(tag, record)` fails loudly.
   */
  override emit<E extends keyof ForwardSinkEvents>(event: E, ...args: Parameters<Listener<E>>): boolean {
    if (typeof event === "string" && !EVENT_NAMES.has(event)) {
      throw new ForwardInvalidCallError(
        `"${event}" is not an event of ForwardSink: emit() is EventEmitter's and sends nothing; ` +
          "to send an event, call sink.send(tag, record, time?)",
      );
    }
    return super.emit(event, ...args);
  }

  /**
   * Emits one of the sink's own events from inside socket and timer callbacks. A listener that throws must not
   * leave the sink half-updated, so its exception is re-thrown on the next tick, as Node does for listeners.
   */
  #notify<E extends keyof ForwardSinkEvents>(event: E, ...args: Parameters<Listener<E>>): void {
    try {
      super.emit(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /**
   * Sends an event: validated and encoded synchronously into the tag's batch. Returns false only to say "slow
   * down" (buffer past half its limit, or the event was dropped and counted). Throws, naming what to pass
   * instead: `FORWARD_INVALID_RECORD` (tag not a non-empty string, record not a plain object or not encodable),
   * `FORWARD_INVALID_TIME` (see EventTimeInput; numbers are epoch milliseconds), `FORWARD_INVALID_CALL` (a
   * callback or extra arguments). Records hold JSON-like values (a nested `Date` travels as msgpack timestamp
   * ext -1, which Fluentd does not decode: send it as a string).
   */
  send(tag: string, record: EventRecord, time?: EventTimeInput): boolean {
    if (arguments.length > 3) throw extraArguments(arguments.length);
    if (typeof tag !== "string" || tag.length === 0) throw badTag(tag);
    if (!isPlainRecord(record)) throw badRecord(record);
    return this.#accept(tag, record, time, false, undefined);
  }

  #accept(
    tag: string,
    record: EventRecord,
    time: EventTimeInput | undefined,
    force: boolean,
    floatFields: ReadonlySet<string> | undefined,
  ): boolean {
    if (this.#closing) {
      this.#countDrop(1, "closed");
      return false;
    }
    // A time given is checked now, even if the event is dropped; "now" is read only if the event is encoded.
    if (time !== undefined) readTime(time, scratchTime);
    if (!this.#started) {
      // Connect while the first batch fills.
      this.#started = true;
      this.#pool.demand();
    }
    const sealedBefore = this.#batcher.seq;
    const admission = this.#admission.admit(
      tag,
      time === undefined ? undefined : scratchTime,
      record,
      force,
      floatFields,
    );
    if (admission === "accepted" || admission === "slowDown") {
      this.#counters.accepted++;
      if (!this.#holding) this.#hold();
    }
    if (this.#batcher.seq !== sealedBefore) this.#dispatch();
    return admission === "accepted";
  }

  /**
   * Hands pending frames to the servers in order, skipping frames already settled; asks the pool for a
   * connection while some remain. Re-entrant calls (from pool events during a send) are ignored.
   */
  #dispatch(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    const buffer = this.#buffer;
    try {
      for (let frame = buffer.peek(); frame !== undefined; frame = buffer.peek()) {
        if (frame.settled) {
          buffer.shift();
          continue;
        }
        // Frames go in order: a frame still being gzipped holds the ones behind it (for a millisecond or so).
        if (frame.compressing) break;
        const retry = frame.attempts > 0;
        if (!this.#pool.send(frame)) break;
        buffer.shift();
        buffer.taken(frame);
        if (retry) this.#counters.retried += frame.events;
      }
      if (buffer.pendingCount > 0) this.#pool.demand();
    } finally {
      this.#dispatching = false;
    }
  }

  /** Events are buffered: sockets and timers keep the process alive, and `beforeExit` sends open batches. */
  #hold(): void {
    this.#holding = true;
    this.#pool.setRef(true);
    if (holdingSinks.size === 0) process.on("beforeExit", flushHoldingSinks);
    holdingSinks.add(this);
  }

  /** Nothing is buffered any more (or the sink is closed): an idle sink does not keep the process alive. */
  #releaseIfIdle(): void {
    if (!this.#holding) return;
    // A closed disk store still counts the frames it kept on disk.
    if (!this.#closing && this.#buffer.frameCount + this.#buffer.openEvents > 0) return;
    this.#holding = false;
    this.#pool.setRef(false);
    holdingSinks.delete(this);
    if (holdingSinks.size === 0) process.off("beforeExit", flushHoldingSinks);
  }

  #onSettled(frame: Frame, server: ServerInfo, latencyMs: number): void {
    if (!this.#buffer.settle(frame)) return;
    // The server has every byte of the frame: its buffer may carry the next batch.
    this.#batcher.recycle(frame);
    if (this.#opts.requireAck) {
      this.#counters.acked += frame.events;
      if (this.listenerCount("ack") > 0) {
        this.#notify("ack", {
          server,
          chunk: frame.chunk!,
          events: frame.events,
          latencyMs,
        } satisfies AckInfo);
      }
    }
    this.#checkRoom();
    this.#releaseIfIdle();
  }

  #checkRoom(): void {
    const blocked = this.#blocked;
    if (blocked && this.#admission.fits(blocked.size)) {
      const { item, cb } = blocked;
      this.#blocked = undefined;
      this.#writeItem(item, cb);
    }
    if (this.#admission.takeDrain(this.#buffer.bytes)) this.#notify("drain");
  }

  #countDrop(count: number, reason: DropReason): void {
    this.#counters.dropped += count;
    this.#droppedBy[reason] += count;
    this.#drops.add(count, reason);
  }

  /** Writable side: validates the item; with `overflow: "block"` waits while the buffer is full. */
  override _write(item: ForwardItem, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    const invalid = itemError(item);
    if (invalid) {
      cb(invalid);
      return;
    }
    if (this.#opts.overflow === "block" && !this.#closing && this.#admission.atLimit) {
      this.#blocked = { item, cb, size: 0 };
      return;
    }
    this.#writeItem(item, cb);
  }

  #writeItem(item: ForwardItem, cb: (err?: Error | null) => void): void {
    try {
      this.#accept(item.tag, item.record, item.time, this.#opts.overflow === "block", item.floatFields);
    } catch (err) {
      cb(err as Error);
      return;
    }
    const heldSize = this.#admission.takeHeldSize();
    if (heldSize > 0) {
      this.#blocked = { item, cb, size: heldSize };
      return;
    }
    cb();
  }

  /**
   * Writable side: `end()` (and so `pipeline()`) finishes once everything is delivered, or at `closeTimeoutMs`
   * after `end()` was called, whichever comes first: a write still waiting for room (overflow `"block"`) is given
   * up too. What was not delivered is counted as dropped; `close()` then returns the report.
   */
  override end(...args: unknown[]): this {
    if (!this.writableEnded && this.#closePromise === undefined) {
      const { clock, closeTimeoutMs } = this.#opts;
      this.#endDeadline ??= clock.setTimeout(() => this.#shutdown(false), closeTimeoutMs);
    }
    return (super.end as (...a: unknown[]) => this).apply(this, args);
  }

  /** Writable side: the last write is done; delivers what is buffered within the deadline `end()` set. */
  override _final(cb: (err?: Error | null) => void): void {
    if (this.#closing) {
      cb();
      return;
    }
    this.flush().then(() => {
      this.#shutdown(false);
      cb();
    }, cb);
  }

  /** Writable side: `destroy()` closes every connection at once. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#shutdown();
    cb(err);
  }

  /**
   * Resolves when every event sent so far is settled: written to a socket, or acknowledged with `requireAck`.
   * Never rejects; resolves at `close()` even if undelivered. Emits `flush` when it resolves.
   */
  flush(): Promise<void> {
    this.#batcher.sealAll();
    const target = this.#batcher.seq;
    if (this.#closing || this.#buffer.oldestSeq > target) {
      this.#notify("flush");
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#buffer.waitPast(target, () => {
        this.#notify("flush");
        resolve();
      });
    });
  }

  /**
   * Flushes, then closes every connection. Never takes longer than `timeoutMs` (default: the sink's
   * `closeTimeoutMs`, 10000); reports what is known: `written`, `acknowledged` (acks only), `delivered` (acks
   * confirmed every event). Events still buffered are dropped (reason `undelivered`). Idempotent: after `end()`
   * it returns the report of that ending.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.#closePromise) return this.#closePromise;
    let timeoutMs: number;
    try {
      timeoutMs = closeTimeoutMs(options, this.#opts.closeTimeoutMs);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.#closePromise = (async () => {
      if (!this.#closing && timeoutMs > 0) {
        // Servers waiting out a backoff may be back: try them now rather than after the deadline.
        if (this.#buffer.frameCount + this.#buffer.openEvents > 0) this.#pool.probeDown();
        await raceTimeout(this.flush(), timeoutMs, this.#opts.clock);
      }
      return this.#shutdown();
    })();
    return this.#closePromise;
  }

  /** Gives up what is still buffered and closes every connection; `destroy` false while `end()` finishes. */
  #shutdown(destroy = true): CloseReport {
    if (this.#finalReport) {
      if (destroy && !this.destroyed) this.destroy();
      return this.#finalReport;
    }
    this.#closing = true;
    this.#opts.clock.clearTimeout(this.#endDeadline);
    this.#batcher.sealOpen();
    this.#pool.close();
    const undelivered = {
      events: this.#buffer.frameEvents,
      frames: this.#buffer.frameCount,
      bytes: this.#buffer.frameBytes,
    };
    const kept = this.#buffer.close();
    if (undelivered.events > kept) this.#countDrop(undelivered.events - kept, "undelivered");
    if (this.#blocked) {
      const { cb } = this.#blocked;
      this.#blocked = undefined;
      this.#countDrop(1, "closed");
      cb();
    }
    this.#drops.flush();
    this.#releaseIfIdle();
    const c = this.#counters;
    const acknowledged = this.#opts.requireAck ? c.acked : undefined;
    const { events, frames, bytes } = undelivered;
    const where = kept > 0 ? `, ${kept} of them kept in bufferPath for the next start` : "";
    this.#finalReport = {
      written: c.sent,
      acknowledged,
      delivered: acknowledged !== undefined && c.dropped === 0 && acknowledged === c.accepted + c.replayed,
      timedOut: events > 0,
      undeliveredEvents: events,
      undeliveredFrames: frames,
      undeliveredBytes: bytes,
      keptEvents: kept,
      error:
        events === 0
          ? undefined
          : new ForwardCloseTimeoutError(
              `closed with ${events} events (${frames} frames, ${bytes} bytes) undelivered${where}`,
            ),
    };
    if (destroy && !this.destroyed) this.destroy();
    return this.#finalReport;
  }

  /**
   * Replaces the servers at run time (for service discovery such as Consul or etcd, and the command's SIGHUP), with
   * the same validation and defaults as the `servers` option (throws `INVALID_OPTION`). A server in both lists keeps
   * its connection; a new one takes traffic at once; one that left takes no new frames, and closes once what it has
   * in flight is acknowledged (or re-sent to the others if it fails): nothing is lost, and nothing is sent twice
   * beyond what was in flight.
   */
  setServers(servers: ForwardServerOptions[]): void {
    const o = this.#opts;
    this.#pool.setServers(resolveServers(servers, o.credentials));
    this.#dispatch();
  }

  /** Counters (see SinkStats for the invariant they keep), buffer occupancy and per-server health. */
  stats(): SinkStats {
    return {
      ...this.#counters,
      droppedBy: { ...this.#droppedBy },
      bufferedBytes: this.#buffer.bytes,
      bufferedEvents: this.#buffer.frameEvents + this.#buffer.openEvents,
      bufferedFrames: this.#buffer.frameCount,
      servers: this.#pool.stats(),
    };
  }
}

/** Resolves when `promise` settles or `ms` later on `clock`, whichever comes first; clears its timer either way. */
async function raceTimeout(promise: Promise<void>, ms: number, clock: Clock): Promise<void> {
  let timer: Timer | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, ms);
    }),
  ]);
  clock.clearTimeout(timer);
}

/** True for a record the sink sends: an object whose prototype is Object.prototype or null. */
function isPlainRecord(value: unknown): value is EventRecord {
  return typeof value === "object" && value !== null && isPlainObject(value);
}

/** What a value is, for error messages: `a string`, `an instance of Access`, `null`. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor
      ?.name;
    return name ? `an instance of ${name}` : "an object with a foreign prototype";
  }
  return typeof value === "function" ? "a function" : `a ${typeof value}`;
}

function extraArguments(count: number): ForwardInvalidCallError {
  return new ForwardInvalidCallError(
    `send(tag, record, time?) takes at most 3 arguments, got ${count}: it takes no callback ` +
      "(fluent-logger style); await sink.flush() or listen for 'ack' to know when events are delivered",
  );
}

function badTag(tag: unknown): ForwardInvalidRecordError {
  return new ForwardInvalidRecordError(
    `tag must be a non-empty string such as "app.access", got ${typeof tag === "string" ? '""' : kindOf(tag)}`,
  );
}

function badRecord(record: unknown): ForwardInvalidRecordError {
  const kind = kindOf(record);
  const fix = kind.startsWith("an instance of")
    ? "pass a plain object: { ...record } for its own fields, or record.toJSON()"
    : 'pass a plain object such as { message: "hello" }';
  return new ForwardInvalidRecordError(`record must be a plain object, got ${kind}: ${fix}`);
}

/** Why an item written through the Writable side cannot be sent, or undefined when it can. */
function itemError(item: unknown): ForwardInvalidRecordError | undefined {
  if (typeof item !== "object" || item === null) {
    return new ForwardInvalidRecordError(
      `expected an item { tag: non-empty string, record: plain object, time? }, got ${kindOf(item)}`,
    );
  }
  const { tag, record } = item as ForwardItem;
  if (typeof tag !== "string" || tag.length === 0) return badTag(tag);
  if (!isPlainRecord(record)) return badRecord(record);
  return undefined;
}
