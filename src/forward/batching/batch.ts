import {
  MAX_OPTIONS_SIZE,
  MAX_TIME_SIZE,
  copyMessageWithChunk,
  maxFrameHeaderSize,
  messageStartSize,
  writeEntryStart,
  writeFrameHeaderBefore,
  writeMessageStart,
  writeOptions,
  type ForwardMode,
} from "../protocol/frame-encoder.js";
import type { EncodeTarget } from "../protocol/record-encoder.js";
import { BufferPool } from "./buffer-pool.js";

/** A sealed batch: the frame bytes (the raw entries, when `compress`) and how many events they carry. */
export interface SealedFrame {
  bytes: Buffer;
  /** CompressedPackedForward: `bytes` are the entries, to be gzipped and framed (off the caller's stack). */
  compress: boolean;
  /** The tag, encoded. */
  tag: Buffer;
  events: number;
  chunk: string | undefined;
  /** The whole buffer `bytes` is a view of, to give back to the pool once the frame is settled. */
  backing: Buffer | undefined;
}

const MIN_CAPACITY = 4096;
/** Free space `begin` keeps ahead of an entry, so records are rarely encoded past the end of the buffer. */
const ENTRY_ROOM = 16 * 1024;

/**
 * The open batch of one tag, sole owner of its bytes: entries (`[time, record]`) are encoded straight into a growing
 * buffer that keeps room in front for the frame header, so sealing a PackedForward/Forward frame copies nothing.
 * An entry is begun (`begin` writes `[time,`), its record encoded in place by a RecordEncoder (the batch is its
 * EncodeTarget), held (`hold`), then committed or discarded. Sealing under a held entry carries the entry over.
 */
export class Batch implements EncodeTarget {
  readonly tag: string;
  readonly #tagBytes: Buffer;
  readonly #mode: ForwardMode;
  readonly #eventTime: boolean;
  readonly #pool: BufferPool;
  readonly #headRoom: number;
  /** Room for a batch of `maxBytes` and one more entry: the buffer grows no further unless an entry needs it. */
  readonly #fullSize: number;
  #buf: Buffer;
  /** End of the committed entries. */
  #pos: number;
  /** End of the entry held (encoded, not yet committed), or -1. */
  #heldEnd = -1;
  /**
   * Message mode: where each committed entry begins, the first `#count` slots. Never shortened: a batch reuses the
   * slots of the batches before it instead of growing an array again (30 bytes an event).
   */
  readonly #offsets: number[] | undefined;
  /** Bytes an entry takes before its time: `[` (Forward modes), `[tag,` (Message mode). */
  readonly #entryStartSize: number;
  #count = 0;

  constructor(
    tag: string,
    mode: ForwardMode,
    eventTime: boolean,
    capacity: number,
    pool: BufferPool,
    maxBytes: number,
  ) {
    this.tag = tag;
    this.#tagBytes = Buffer.from(tag, "utf8");
    this.#mode = mode;
    this.#eventTime = eventTime;
    this.#pool = pool;
    this.#headRoom = maxFrameHeaderSize(this.#tagBytes.length);
    this.#fullSize = this.#headRoom + maxBytes + ENTRY_ROOM + MAX_OPTIONS_SIZE;
    this.#buf = pool.take(Math.max(MIN_CAPACITY, capacity));
    this.#pos = this.#headRoom;
    this.#offsets = mode === "Message" ? [] : undefined;
    this.#entryStartSize = mode === "Message" ? messageStartSize(this.#tagBytes) : 1;
  }

  /** The tag, encoded (UTF-8). */
  get tagBytes(): Buffer {
    return this.#tagBytes;
  }

  /** The entry held (encoded, not yet committed), a view of the batch's buffer: valid until the next call. */
  heldEntry(): Buffer {
    return this.#buf.subarray(this.#pos, this.#heldEnd < 0 ? this.#pos : this.#heldEnd);
  }

  /** The buffer entries are encoded into. */
  get buf(): Buffer {
    return this.#buf;
  }

  /** Events in the open batch. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of committed entries in the open batch. */
  get bytes(): number {
    return this.#pos - this.#headRoom;
  }

  /** Bytes of the held entry (0 when none). */
  get heldSize(): number {
    return this.#heldEnd < 0 ? 0 : this.#heldEnd - this.#pos;
  }

  /**
   * Begins an entry at the end of the batch by writing `[time,` (Message mode: the frame start `[tag, time,`, so
   * that committed entries are back-to-back Message frames); returns where its record goes. Forgets any entry
   * held before.
   */
  begin(seconds: number, nanos: number): number {
    this.#heldEnd = -1;
    if (this.#pos + ENTRY_ROOM > this.#buf.length && this.#buf.length < this.#fullSize) {
      this.grow(Math.min(this.#pos + ENTRY_ROOM, this.#fullSize), this.#pos);
    }
    const start = this.#entryStartSize + MAX_TIME_SIZE;
    if (this.#pos + start > this.#buf.length) this.grow(this.#pos + start, this.#pos);
    if (this.#offsets !== undefined) {
      return writeMessageStart(this.#buf, this.#pos, this.#tagBytes, seconds, nanos, this.#eventTime);
    }
    return writeEntryStart(this.#buf, this.#pos, seconds, nanos, this.#eventTime);
  }

  /** EncodeTarget: a larger buffer holding the first `used` bytes (twice the size, capped near `maxBytes`). */
  grow(min: number, used: number): Buffer {
    let size = this.#buf.length * 2;
    while (size < min) size *= 2;
    if (size > this.#fullSize) size = Math.max(min, this.#fullSize);
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, used);
    this.#buf = next;
    return next;
  }

  /** The entry begun last ends at `end`: hold it until `commit` or `discard`; returns its size. */
  hold(end: number): number {
    // Sealing writes the frame's option map after the entries.
    if (end + MAX_OPTIONS_SIZE > this.#buf.length) this.grow(end + MAX_OPTIONS_SIZE, end);
    this.#heldEnd = end;
    return end - this.#pos;
  }

  /** Adds the held entry to the batch. */
  commit(): void {
    if (this.#heldEnd < 0) return;
    if (this.#offsets !== undefined) this.#offsets[this.#count] = this.#pos;
    this.#pos = this.#heldEnd;
    this.#heldEnd = -1;
    this.#count++;
  }

  /** Forgets the held entry. */
  discard(): void {
    this.#heldEnd = -1;
  }

  /**
   * Closes the committed entries into frames, with a held entry staying at the front of the fresh batch.
   * `chunkId` is called once per frame and returns the ack id, or undefined. One frame per batch, except in
   * Message mode with acks: one frame per event, each with its own chunk (all views of one buffer). Without
   * acks the Message frames, back to back, make one frame: one buffer and one write for the batch.
   */
  seal(chunkId: () => string | undefined): SealedFrame[] {
    const count = this.#count;
    if (count === 0) return [];
    const chunk = chunkId();
    if (this.#offsets !== undefined && chunk !== undefined) return this.#sealMessages(chunk, chunkId);
    const buf = this.#buf;
    const head = this.#headRoom;
    const entriesEnd = this.#pos;
    const compress = this.#mode === "CompressedPackedForward";
    const held = this.heldSize;
    // The option map goes where a held entry begins: keep the entry first.
    const heldCopy = held > 0 ? Buffer.from(buf.subarray(entriesEnd, entriesEnd + held)) : undefined;
    let start = head;
    let end = entriesEnd;
    if (this.#mode === "Forward" || this.#mode === "PackedForward") {
      start = writeFrameHeaderBefore(buf, head, this.#tagBytes, this.#mode, count, entriesEnd - head);
      end = writeOptions(buf, entriesEnd, { size: count, chunk });
    }
    const bytes = buf.subarray(start, end);
    const tag = this.#tagBytes;
    let frame: SealedFrame;
    // Do not pin a mostly empty buffer for as long as the frame waits for its ack (or its gzip).
    if (bytes.length < buf.length / 2) {
      frame = { bytes: Buffer.from(bytes), compress, tag, events: count, chunk, backing: undefined };
    } else {
      frame = { bytes, compress, tag, events: count, chunk, backing: buf };
      this.#buf = this.#pool.take(buf.length);
    }
    this.#reset();
    if (heldCopy) {
      heldCopy.copy(this.#buf, head);
      this.#heldEnd = head + held;
    }
    return [frame];
  }

  /** Message mode with acks: `[tag, time, record, {chunk}]` per event, copied into one buffer. */
  #sealMessages(first: string, chunkId: () => string | undefined): SealedFrame[] {
    const offsets = this.#offsets!;
    const buf = this.#buf;
    const head = this.#headRoom;
    const entriesEnd = this.#pos;
    const tag = this.#tagBytes;
    const n = this.#count;
    const out = Buffer.allocUnsafe(entriesEnd - head + n * MAX_OPTIONS_SIZE);
    const frames: SealedFrame[] = new Array<SealedFrame>(n);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const chunk = i === 0 ? first : chunkId()!;
      const message = buf.subarray(offsets[i]!, i + 1 < n ? offsets[i + 1]! : entriesEnd);
      const start = pos;
      pos = copyMessageWithChunk(out, pos, message, chunk);
      frames[i] = {
        bytes: out.subarray(start, pos),
        compress: false,
        tag,
        events: 1,
        chunk,
        backing: undefined,
      };
    }
    // The entries were copied out: the buffer stays, the held entry moves first.
    const held = this.heldSize;
    this.#reset();
    if (held > 0) {
      buf.copyWithin(head, entriesEnd, entriesEnd + held);
      this.#heldEnd = head + held;
    }
    return frames;
  }

  #reset(): void {
    this.#pos = this.#headRoom;
    this.#count = 0;
  }
}
