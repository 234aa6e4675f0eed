import type { EventRecord } from "../../item.js";
import { systemClock, type Clock, type Timer } from "../clock.js";
import { encodePackedFrame, type ForwardMode } from "../protocol/frame-encoder.js";
import { RecordEncoder } from "../protocol/record-encoder.js";
import { Batch } from "./batch.js";
import { BufferPool } from "./buffer-pool.js";
import { GzipMembers } from "./gzip-members.js";
import { newChunkId, newFrame, type Frame } from "./frame.js";
import type { FrameStore } from "../store/frame-store.js";

const NO_CHUNK = (): undefined => undefined;
/** Evicted frame objects kept for the next seals: more than the frames a buffer holds between two evictions. */
const MAX_SPARE_FRAMES = 64;

/** What the batcher needs from the sink options. */
export interface BatcherOptions {
  mode: ForwardMode;
  /** gzip level of CompressedPackedForward frames (1 to 9); default 1. */
  compressionLevel?: number;
  eventTime: boolean;
  requireAck: boolean;
  batch: { maxEvents: number; maxBytes: number; maxDelayMs: number };
  /** Sets the `maxDelayMs` timer: the sink's clock. Default: the system clock. */
  clock?: Clock;
}

/** `durability: "event"`: called with every event committed to a batch, before `send()` returns. */
export type EventLog = (tag: string, tagBytes: Buffer, entry: Buffer) => void;

/**
 * Per-tag batching: encodes each record once into the open batch of its tag and seals batches into frames
 * (added to the FrameStore) at `maxEvents`, `maxBytes`, or `maxDelayMs` after a batch's first event.
 */
export class Batcher {
  readonly #opts: BatcherOptions;
  readonly #clock: Clock;
  readonly #buffer: FrameStore;
  readonly #onReady: () => void;
  readonly #encoder = new RecordEncoder();
  readonly #pool = new BufferPool();
  readonly #batches = new Map<string, Batch>();
  /** Frames evicted before they were ever written, whose objects the next seals reuse (see `evicted`). */
  readonly #spareFrames: Frame[] = [];
  readonly #chunkId: () => string | undefined;
  readonly #logEvent: EventLog | undefined;
  #lastTag = "";
  #lastBatch: Batch | undefined;
  #timer: Timer | undefined;
  /** The batch holding the event encoded and not yet committed or discarded. */
  #pending: Batch | undefined;
  #seq = 0;
  /**
   * The batch timer's callback, made once: a closure written inside `commit` would make V8 allocate a context
   * for `this` on every call (every event), not only when the timer is set.
   */
  readonly #sealAllLater = (): void => this.sealAll();
  /** CompressedPackedForward: made at the first frame. */
  #gzip: GzipMembers | undefined;

  /**
   * `onReady` runs when frames became sendable outside a `commit`: the `maxDelayMs` timer sealed the open batches, or
   * a CompressedPackedForward frame was gzipped (the sink then dispatches them). Frames are numbered from
   * `lastSeq + 1` (past the frames a disk store replayed).
   */
  constructor(
    opts: BatcherOptions,
    buffer: FrameStore,
    onReady: () => void,
    lastSeq = 0,
    logEvent?: EventLog,
  ) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#logEvent = logEvent;
    this.#buffer = buffer;
    this.#onReady = onReady;
    this.#seq = lastSeq;
    this.#chunkId = opts.requireAck ? newChunkId : NO_CHUNK;
  }

  /** Seq of the newest frame created (frames are numbered from 1): it changes whenever a batch is sealed. */
  get seq(): number {
    return this.#seq;
  }

  #batchOf(tag: string): Batch {
    let batch = this.#lastBatch;
    if (tag !== this.#lastTag || batch === undefined) {
      batch = this.#batches.get(tag);
      if (batch === undefined) {
        const { mode, eventTime, batch: limits } = this.#opts;
        const capacity = Math.min(limits.maxBytes + 1024, 64 * 1024);
        batch = new Batch(tag, mode, eventTime, capacity, this.#pool, limits.maxBytes);
        this.#batches.set(tag, batch);
      }
      this.#lastTag = tag;
      this.#lastBatch = batch;
    }
    return batch;
  }

  /**
   * Encodes `record` as an event of `tag` straight into the tag's open batch, without adding it yet; returns
   * the bytes its entry takes. Follow with `commit` or `discard`. Throws FORWARD_INVALID_RECORD.
   */
  encode(
    tag: string,
    seconds: number,
    nanos: number,
    record: EventRecord,
    floatFields?: ReadonlySet<string>,
  ): number {
    this.#pending = undefined;
    const batch = this.#batchOf(tag);
    const at = batch.begin(seconds, nanos);
    const end = this.#encoder.encodeInto(record, batch, at, floatFields);
    this.#pending = batch;
    return batch.hold(end);
  }

  /** Forgets the event last encoded (it was dropped). */
  discard(): void {
    this.#pending?.discard();
    this.#pending = undefined;
  }

  /** Adds the event last encoded to its batch, sealing the batch at `maxEvents`/`maxBytes`. */
  commit(): void {
    const batch = this.#pending;
    if (batch === undefined) return;
    this.#pending = undefined;
    const { maxEvents, maxBytes, maxDelayMs } = this.#opts.batch;
    const size = batch.heldSize;
    if (batch.count > 0 && batch.bytes + size > maxBytes) this.#seal(batch);
    if (this.#timer === undefined) {
      // Never holds the process: the sink does while it has events, and seals open batches at `beforeExit`.
      this.#timer = this.#clock.setTimeout(this.#sealAllLater, maxDelayMs);
      this.#timer.unref();
    }
    if (this.#logEvent !== undefined) this.#logEvent(batch.tag, batch.tagBytes, batch.heldEntry());
    batch.commit();
    this.#buffer.openAdded(size);
    if (batch.count >= maxEvents || batch.bytes >= maxBytes) this.#seal(batch);
  }

  /** A frame was settled by its server: its batch buffer may be reused, once gzip no longer reads it. */
  recycle(frame: Frame): void {
    if (frame.backing !== undefined && !frame.compressing) this.#pool.give(frame.backing);
  }

  /**
   * A frame dropped from the queue before it was ever written (dropOldest): its buffer goes back to the pool and its
   * object to the next seal. Nothing else holds such a frame (no connection took it, the buffer let it go), unless
   * gzip still reads it. In an outage at full speed the sink seals thousands of frames a second: frame objects that
   * each lived a few milliseconds were most of what V8's scavenges kept alive, and that is what made V8 grow its
   * young generation (32 MiB of RSS) under `dropOldest`.
   */
  evicted(frame: Frame): void {
    this.recycle(frame);
    if (!frame.compressing && frame.attempts === 0 && this.#spareFrames.length < MAX_SPARE_FRAMES) {
      this.#spareFrames.push(frame);
    }
  }

  /**
   * Gzips a CompressedPackedForward frame's entries on libuv's thread pool, then frames them; until then the raw
   * entries count against the limit. Should gzip ever fail, the entries go uncompressed (PackedForward).
   */
  #compress(frame: Frame, tag: Buffer): void {
    const entries = frame.bytes;
    this.#gzip ??= new GzipMembers(this.#opts.compressionLevel ?? 1);
    this.#gzip.compress(
      entries,
      (err, gz) => {
        const skipped = err === null && gz === undefined;
        const options = { size: frame.events, chunk: frame.chunk };
        const bytes = skipped
          ? entries
          : err
            ? encodePackedFrame(tag, entries, options)
            : encodePackedFrame(tag, gz!, { ...options, compressed: "gzip" });
        // The store lets go of the batch buffer the entries were a view of: it goes back to the pool.
        const backing = frame.backing;
        const sendable = this.#buffer.compressed(frame, bytes);
        if (backing !== undefined) this.#pool.give(backing);
        if (sendable) this.#onReady();
      },
      // A frame dropped (dropOldest) before its turn is not gzipped: under an outage at full speed the queue
      // would otherwise be all dropped frames, and the live ones behind them would wait for seconds, unsent.
      () => !frame.settled,
    );
  }

  #seal(batch: Batch): void {
    if (batch.count === 0) return;
    const bytes = batch.bytes;
    const events = batch.count;
    const sealed = batch.seal(this.#chunkId);
    this.#buffer.openSealed(bytes, events);
    for (const s of sealed) {
      const frame = newFrame(++this.#seq, s, this.#spareFrames.pop());
      this.#buffer.add(frame);
      if (s.compress) this.#compress(frame, s.tag);
    }
  }

  /** Seals every open batch into frames. */
  sealOpen(): void {
    this.stopTimer();
    for (const batch of this.#batches.values()) this.#seal(batch);
    if (this.#batches.size > 256) {
      // Forget tags that went quiet, so a stream of one-off tags does not grow the map for ever.
      for (const [tag, batch] of this.#batches) {
        if (batch.count === 0 && batch !== this.#lastBatch && batch !== this.#pending)
          this.#batches.delete(tag);
      }
    }
  }

  /** Seals every open batch and runs `onReady`. */
  sealAll(): void {
    this.sealOpen();
    this.#onReady();
  }

  /** Stops the batch timer (at close). */
  stopTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
