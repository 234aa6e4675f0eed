import type { EventRecord } from "../item.js";
import { Batch } from "./batch.js";
import type { FrameBuffer } from "./buffer.js";
import { MAX_TIME_SIZE, type ForwardMode } from "./encoder.js";
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
  private readonly batches = new Map<string, Batch>();
  private readonly chunkId: () => string | undefined;
  private lastTag = "";
  private lastBatch: Batch | undefined;
  private timer: NodeJS.Timeout | undefined;
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

  /** Encodes a record (kept until `append`); returns the bytes its entry will take. Throws FORWARD_INVALID_RECORD. */
  encode(record: EventRecord): number {
    this.encoder.encode(record);
    return 1 + MAX_TIME_SIZE + this.encoder.end;
  }

  /** Appends the record last passed to `encode` as an event of `tag` at the given time. */
  append(tag: string, seconds: number, nanos: number): void {
    const encoder = this.encoder;
    let batch = this.lastBatch;
    if (tag !== this.lastTag || batch === undefined) {
      batch = this.batches.get(tag);
      if (batch === undefined) {
        const { mode, eventTime, batch: limits } = this.opts;
        batch = new Batch(tag, mode, eventTime, Math.min(limits.maxBytes + 1024, 64 * 1024));
        this.batches.set(tag, batch);
      }
      this.lastTag = tag;
      this.lastBatch = batch;
    }
    const { maxEvents, maxBytes, maxDelayMs } = this.opts.batch;
    const size = 1 + MAX_TIME_SIZE + encoder.end;
    if (batch.count > 0 && batch.bytes + size > maxBytes) this.sealAndNotify(batch);
    if (this.timer === undefined) this.timer = setTimeout(() => this.sealAll(), maxDelayMs);
    const added = batch.append(seconds, nanos, encoder.buf, 0, encoder.end);
    this.buffer.openBytes += added;
    this.buffer.openEvents++;
    if (batch.count >= maxEvents || batch.bytes >= maxBytes) this.sealAndNotify(batch);
  }

  private sealAndNotify(batch: Batch): void {
    this.seal(batch);
    this.onSealed();
  }

  private seal(batch: Batch): void {
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
