import type { EventRecord } from "../item.js";
import { Batch } from "./batch.js";
import { BufferPool } from "./buffer-pool.js";
import type { FrameBuffer } from "./buffer.js";
import type { ForwardMode } from "./encoder.js";
import { newChunkId, type Frame } from "./frame.js";
import { RecordEncoder } from "./record-encoder.js";

const NO_CHUNK = (): undefined => undefined;

/** What the batcher needs from the sink options; internal. */
export interface BatcherOptions {
  mode: ForwardMode;
  eventTime: boolean;
  requireAck: boolean;
  batch: { maxEvents: number; maxBytes: number; maxDelayMs: number };
}

/**
 * Per-tag batching: encodes each record once into the open batch of its tag and seals batches into frames
 * (added to the FrameBuffer) at `maxEvents`, `maxBytes`, or `maxDelayMs` after a batch's first event; internal.
 */
export class Batcher {
  private readonly encoder = new RecordEncoder();
  private readonly pool = new BufferPool();
  private readonly batches = new Map<string, Batch>();
  private readonly chunkId: () => string | undefined;
  private lastTag = "";
  private lastBatch: Batch | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The batch of the event encoded and not yet committed or discarded. */
  private pending: Batch | undefined;
  /** Where the pending entry ends: in `pendingBuf`, or its length in `stash` once moved there. */
  private pendingEnd = 0;
  private pendingBuf: Buffer | undefined;
  /** Holds the pending entry while its batch is sealed under it (then `pendingBuf` is undefined). */
  private stash: Buffer = Buffer.allocUnsafe(0);
  /** Seq of the newest frame created (frames are numbered from 1). */
  seq = 0;

  /** `onSealed` runs after frames were added by a size limit or the timer (the sink dispatches them). */
  constructor(
    private readonly opts: BatcherOptions,
    private readonly buffer: FrameBuffer,
    private readonly onSealed: () => void,
  ) {
    this.chunkId = opts.requireAck ? newChunkId : NO_CHUNK;
  }

  private batchOf(tag: string): Batch {
    let batch = this.lastBatch;
    if (tag !== this.lastTag || batch === undefined) {
      batch = this.batches.get(tag);
      if (batch === undefined) {
        const { mode, eventTime, batch: limits } = this.opts;
        const capacity = Math.min(limits.maxBytes + 1024, 64 * 1024);
        batch = new Batch(tag, mode, eventTime, capacity, this.pool, limits.maxBytes);
        this.batches.set(tag, batch);
      }
      this.lastTag = tag;
      this.lastBatch = batch;
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
    this.pending = undefined;
    const batch = this.batchOf(tag);
    const encoder = this.encoder;
    const at = batch.begin(seconds, nanos); // may grow batch.buf
    encoder.encodeInto(record, batch.buf, at, floatFields);
    this.pending = batch;
    this.pendingBuf = encoder.buf;
    this.pendingEnd = encoder.end;
    return encoder.end - batch.pos;
  }

  /** Forgets the event last encoded (it was dropped). */
  discard(): void {
    this.pending = undefined;
    this.pendingBuf = undefined;
  }

  /** Adds the event last encoded to its batch, sealing the batch at `maxEvents`/`maxBytes`. */
  commit(): void {
    const batch = this.pending;
    if (batch === undefined) return;
    const { maxEvents, maxBytes, maxDelayMs } = this.opts.batch;
    const size = this.pendingBuf === undefined ? this.pendingEnd : this.pendingEnd - batch.pos;
    if (batch.count > 0 && batch.bytes + size > maxBytes) this.sealAndNotify(batch);
    if (this.timer === undefined) {
      // Never holds the process: the sink does while it has events, and seals open batches at `beforeExit`.
      this.timer = setTimeout(() => this.sealAll(), maxDelayMs);
      this.timer.unref();
    }
    const added =
      this.pendingBuf === undefined
        ? batch.appendEntry(this.stash, 0, this.pendingEnd)
        : batch.commit(this.pendingBuf, this.pendingEnd);
    this.discard();
    this.buffer.openBytes += added;
    this.buffer.openEvents++;
    if (batch.count >= maxEvents || batch.bytes >= maxBytes) this.sealAndNotify(batch);
  }

  /** The pending entry's batch is about to be sealed: move the entry out of its way. */
  private stashPending(): void {
    const buf = this.pendingBuf!;
    const from = this.pending!.pos;
    const len = this.pendingEnd - from;
    if (this.stash.length < len) this.stash = Buffer.allocUnsafe(Math.max(len, 2 * this.stash.length));
    buf.copy(this.stash, 0, from, this.pendingEnd);
    // The buffer grew while the entry was encoded: keep the larger one (it holds the same entries) so
    // the next batch has room without growing again.
    if (buf !== this.pending!.buf) this.pending!.buf = buf;
    this.pendingBuf = undefined;
    this.pendingEnd = len;
  }

  /** A frame was settled by its server: its batch buffer may be reused. */
  recycle(frame: Frame): void {
    if (frame.backing !== undefined) this.pool.give(frame.backing);
  }

  private sealAndNotify(batch: Batch): void {
    this.seal(batch);
    this.onSealed();
  }

  private seal(batch: Batch): void {
    if (batch.count === 0) return;
    if (batch === this.pending && this.pendingBuf !== undefined) this.stashPending();
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
        backing: s.backing,
        attempts: 0,
        sentAt: 0,
        written: false,
        settled: false,
      };
      this.buffer.add(frame);
    }
  }

  /** Seals every open batch into frames, without notifying. */
  sealOpen(): void {
    this.stopTimer();
    for (const batch of this.batches.values()) this.seal(batch);
    if (this.batches.size > 256) {
      // Forget tags that went quiet, so a stream of one-off tags does not grow the map for ever.
      for (const [tag, batch] of this.batches) {
        if (batch.count === 0 && batch !== this.lastBatch) this.batches.delete(tag);
      }
    }
  }

  /** Seals every open batch and notifies. */
  sealAll(): void {
    this.sealOpen();
    this.onSealed();
  }

  /** Stops the batch timer (at close). */
  stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
