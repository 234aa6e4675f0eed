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
}

const MIN_CAPACITY = 4096;

/**
 * The open batch of one tag: entries (`[time, record]`) are encoded straight into a growing buffer that keeps
 * room in front for the frame header, so sealing a PackedForward/Forward frame copies nothing.
 */
export class Batch {
  readonly tag: string;
  private readonly tagBytes: Buffer;
  private readonly headRoom: number;
  private buf: Buffer;
  private pos: number;
  private offsets: number[] | undefined;
  /** Events in the open batch. */
  count = 0;

  constructor(
    tag: string,
    private readonly mode: ForwardMode,
    private readonly eventTime: boolean,
    private capacity: number,
  ) {
    this.tag = tag;
    this.tagBytes = Buffer.from(tag, "utf8");
    this.headRoom = maxFrameHeaderSize(this.tagBytes.length);
    this.capacity = Math.max(MIN_CAPACITY, capacity);
    this.buf = Buffer.allocUnsafe(this.capacity);
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
    const start = this.pos;
    this.offsets?.push(start);
    let pos = writeEntryStart(this.buf, start, seconds, nanos, this.eventTime);
    pos += source.copy(this.buf, pos, from, to);
    this.pos = pos;
    this.count++;
    return pos - start;
  }

  private grow(min: number): void {
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
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
        out.push({ bytes: encodeMessageFrame(this.tagBytes, entry, chunk), events: 1, chunk });
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
      out.push({ bytes: frame.subarray(start, end), events: count, chunk });
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
      let bytes = this.buf.subarray(start, end);
      // Do not pin a mostly empty buffer for as long as the frame waits for its ack.
      if (bytes.length < this.buf.length / 2) bytes = Buffer.from(bytes);
      else this.buf = Buffer.allocUnsafe(this.buf.length);
      out.push({ bytes, events: count, chunk });
      this.pos = this.headRoom;
    }
    this.count = 0;
    return out;
  }
}
