import { BufferPool } from "./buffer-pool.js";
import {
  MAX_OPTIONS_SIZE,
  MAX_TIME_SIZE,
  encodeMessageFrame,
  gzipEntries,
  maxFrameHeaderSize,
  writeEntryStart,
  writeFrameHeaderBefore,
  writeOptions,
  type ForwardMode,
} from "./encoder.js";

/** A sealed batch: the frame bytes and how many events they carry. */
export interface SealedFrame {
  bytes: Buffer;
  events: number;
  chunk: string | undefined;
  /** The whole buffer `bytes` is a view of, to give back to the pool once the frame is settled. */
  backing: Buffer | undefined;
}

const MIN_CAPACITY = 4096;
/** Free space `begin` keeps ahead of an entry, so records are rarely encoded past the end of the buffer. */
const ENTRY_ROOM = 16 * 1024;

/**
 * The open batch of one tag: entries (`[time, record]`) are encoded straight into a growing buffer that keeps
 * room in front for the frame header, so sealing a PackedForward/Forward frame copies nothing. An entry is
 * either appended as bytes (`append`), or begun (`begin` writes `[time,`), its record encoded in place by the
 * caller at the returned position, and committed (`commit`).
 */
export class Batch {
  readonly tag: string;
  private readonly tagBytes: Buffer;
  private readonly headRoom: number;
  /** The buffer entries are encoded into (the caller encodes a begun entry's record here). */
  buf: Buffer;
  /** End of the committed entries. */
  pos: number;
  private offsets: number[] | undefined;
  /** Events in the open batch. */
  count = 0;
  /** Room for a batch of `maxBytes` and one more entry: the buffer grows no further unless an entry needs it. */
  private readonly fullSize: number;

  constructor(
    tag: string,
    private readonly mode: ForwardMode,
    private readonly eventTime: boolean,
    capacity: number,
    private readonly pool: BufferPool = new BufferPool(0),
    maxBytes = Infinity,
  ) {
    this.tag = tag;
    this.tagBytes = Buffer.from(tag, "utf8");
    this.headRoom = maxFrameHeaderSize(this.tagBytes.length);
    this.fullSize = this.headRoom + maxBytes + ENTRY_ROOM + MAX_OPTIONS_SIZE;
    this.buf = pool.take(Math.max(MIN_CAPACITY, capacity));
    this.pos = this.headRoom;
    this.offsets = mode === "Message" ? [] : undefined;
  }

  /** Bytes of encoded entries in the open batch. */
  get bytes(): number {
    return this.pos - this.headRoom;
  }

  /**
   * Appends one entry `[time, record]`; the record's msgpack encoding is `source[from..to)`. Returns the
   * entry's size.
   */
  append(seconds: number, nanos: number, source: Buffer, from: number, to: number): number {
    const need = 1 + MAX_TIME_SIZE + (to - from) + MAX_OPTIONS_SIZE;
    if (this.pos + need > this.buf.length) this.grow(this.pos + need);
    const pos = writeEntryStart(this.buf, this.pos, seconds, nanos, this.eventTime);
    return this.commit(this.buf, pos + source.copy(this.buf, pos, from, to));
  }

  /** Appends one complete entry (`[time, record]`, already encoded) copied from `source[from..to)`. */
  appendEntry(source: Buffer, from: number, to: number): number {
    const need = to - from + MAX_OPTIONS_SIZE;
    if (this.pos + need > this.buf.length) this.grow(this.pos + need);
    return this.commit(this.buf, this.pos + source.copy(this.buf, this.pos, from, to));
  }

  /**
   * Begins an entry at the end of the batch by writing `[time,`; returns where its record goes. The entry is
   * not part of the batch until `commit`.
   */
  begin(seconds: number, nanos: number): number {
    if (this.pos + ENTRY_ROOM > this.buf.length && this.buf.length < this.fullSize) {
      this.grow(Math.min(this.pos + ENTRY_ROOM, this.fullSize));
    }
    if (this.pos + 1 + MAX_TIME_SIZE > this.buf.length) this.grow(this.pos + 1 + MAX_TIME_SIZE);
    return writeEntryStart(this.buf, this.pos, seconds, nanos, this.eventTime);
  }

  /**
   * Commits the entry begun last, which ends at `end` of `buf`: the batch's buffer, or a larger copy of it
   * made while the record was encoded (which then becomes the batch's buffer). Returns the entry's size.
   */
  commit(buf: Buffer, end: number): number {
    this.buf = buf;
    const start = this.pos;
    this.offsets?.push(start);
    this.pos = end;
    this.count++;
    // Sealing writes the frame's option map after the entries.
    if (end + MAX_OPTIONS_SIZE > buf.length) this.grow(end + MAX_OPTIONS_SIZE);
    return end - start;
  }

  private grow(min: number): void {
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
    if (size > this.fullSize) size = Math.max(min, this.fullSize);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /**
   * Closes the open batch into frames (one frame, or one per event in Message mode) and starts a fresh buffer.
   * `chunkId` is called once per frame and returns the ack id, or undefined without acks.
   */
  seal(chunkId: () => string | undefined): SealedFrame[] {
    const count = this.count;
    if (count === 0) return [];
    const out: SealedFrame[] = [];
    const entriesEnd = this.pos;
    if (this.mode === "Message") {
      const offsets = this.offsets!;
      for (let i = 0; i < offsets.length; i++) {
        const chunk = chunkId();
        const entry = this.buf.subarray(offsets[i]!, offsets[i + 1] ?? entriesEnd);
        out.push({
          bytes: encodeMessageFrame(this.tagBytes, entry, chunk),
          events: 1,
          chunk,
          backing: undefined,
        });
      }
      this.offsets = [];
      this.pos = this.headRoom;
    } else if (this.mode === "CompressedPackedForward") {
      const chunk = chunkId();
      const gz = gzipEntries(this.buf.subarray(this.headRoom, entriesEnd));
      const frame = Buffer.allocUnsafe(this.headRoom + gz.length + MAX_OPTIONS_SIZE);
      const start = writeFrameHeaderBefore(frame, this.headRoom, this.tagBytes, this.mode, count, gz.length);
      gz.copy(frame, this.headRoom);
      const end = writeOptions(frame, this.headRoom + gz.length, { size: count, chunk, compressed: "gzip" });
      out.push({ bytes: frame.subarray(start, end), events: count, chunk, backing: undefined });
      this.pos = this.headRoom;
    } else {
      const chunk = chunkId();
      const start = writeFrameHeaderBefore(
        this.buf,
        this.headRoom,
        this.tagBytes,
        this.mode,
        count,
        entriesEnd - this.headRoom,
      );
      const end = writeOptions(this.buf, entriesEnd, { size: count, chunk });
      const bytes = this.buf.subarray(start, end);
      // Do not pin a mostly empty buffer for as long as the frame waits for its ack.
      if (bytes.length < this.buf.length / 2) {
        out.push({ bytes: Buffer.from(bytes), events: count, chunk, backing: undefined });
      } else {
        out.push({ bytes, events: count, chunk, backing: this.buf });
        this.buf = this.pool.take(this.buf.length);
      }
      this.pos = this.headRoom;
    }
    this.count = 0;
    return out;
  }
}
