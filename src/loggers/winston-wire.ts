/**
 * What the winston transport sends its worker: each record as msgpack with its time, then a close mark. Pure bytes,
 * no thread: the main thread writes (EventWriter), the worker reads (EventReader).
 *
 * msgpack, not JSON, so that a record's values keep their types: a `Buffer`, a `bigint`, a `Map`, a `Date` arrive in
 * the worker as they left, and its ForwardSink encodes them as it would have in the main thread (a Date as its ISO
 * 8601 string, as JSON writes it). thread-stream
 * carries text (its worker decodes UTF-8), so a batch travels as the latin1 string of its bytes: one character per
 * byte, which thread-stream sends as UTF-8 and hands back unchanged.
 *
 * A frame is a kind byte, then for an event its time (float64, epoch ms), its record's length (uint32) and the record.
 */
import { Packr, Unpackr } from "msgpackr";

const EVENT = 0x45; // "E"
const CLOSE = 0x43; // "C"
const EVENT_HEADER = 1 + 8 + 4;
/** msgpackr's REUSE_BUFFER_MODE | RESET_BUFFER_MODE: pack into msgpackr's own reused buffer. */
const REUSE_AND_RESET = 512 | 1024;
type PackTarget = Buffer & { start: number; end: number };

/**
 * As ForwardSink's record encoder hands values to msgpackr (`undefined` as nil, no record extension), so that what
 * msgpackr writes here and reads back in the worker is what the sink would have written: a number as an integer or
 * float64 (never int64, which reads back as a bigint), a bigint as int64, a class instance as the map of its fields
 * (or as its `toJSON()`).
 */
const PACK_OPTIONS = { useRecords: false, encodeUndefinedAsNil: true, variableMapSize: true } as const;
/** Maps as plain objects (ForwardSink's records), int64 as bigint (only a bigint was written as int64). */
const UNPACK_OPTIONS = { useRecords: false, mapsAsObjects: true } as const;

/** The main thread's side: records and their times into one batch, taken as text for thread-stream. */
export class EventWriter {
  readonly #packr = new Packr(PACK_OPTIONS);
  #buf = Buffer.allocUnsafe(64 * 1024);
  #pos = 0;

  /** Bytes in the batch. */
  get length(): number {
    return this.#pos;
  }

  /** Adds an event at `timeMs` (epoch ms). Throws, adding nothing, when msgpack cannot encode the record (a cycle). */
  add(record: Record<string, unknown>, timeMs: number): void {
    const packed = this.#packr.pack(record, REUSE_AND_RESET) as PackTarget;
    const len = packed.end - packed.start;
    this.#ensure(EVENT_HEADER + len);
    const buf = this.#buf;
    const pos = this.#pos;
    buf[pos] = EVENT;
    buf.writeDoubleBE(timeMs, pos + 1);
    buf.writeUInt32BE(len, pos + 9);
    packed.copy(buf, pos + EVENT_HEADER, packed.start, packed.end);
    this.#pos = pos + EVENT_HEADER + len;
  }

  /** Adds the close mark: the worker closes its sink once it has read every event before it. */
  addClose(): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = CLOSE;
  }

  /** The batch as thread-stream's text (one latin1 character per byte); the next batch starts empty. */
  take(): string {
    const text = this.#buf.toString("latin1", 0, this.#pos);
    this.#pos = 0;
    return text;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.#buf.length, this.#pos + n));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}

/** What the worker does with what it reads. */
export interface EventHandler {
  event(record: Record<string, unknown>, timeMs: number): void;
  close(): void;
}

/** The worker's side: text from thread-stream, in chunks cut anywhere, back into events and the close mark. */
export class EventReader {
  readonly #unpackr = new Unpackr(UNPACK_OPTIONS);
  /** The start of a frame that the last chunk cut. */
  #rest: Buffer | undefined;

  /** Reads one chunk, calling `handler` for each whole frame. Throws on bytes that are no frame (a bug). */
  read(chunk: string, handler: EventHandler): void {
    const bytes = Buffer.from(chunk, "latin1");
    const buf = this.#rest === undefined ? bytes : Buffer.concat([this.#rest, bytes]);
    this.#rest = undefined;
    let pos = 0;
    while (pos < buf.length) {
      const kind = buf[pos];
      if (kind === CLOSE) {
        pos++;
        handler.close();
        continue;
      }
      if (kind !== EVENT) throw new Error(`uwsgi-forward/winston: bad frame kind 0x${kind!.toString(16)}`);
      if (buf.length - pos < EVENT_HEADER) break;
      const end = pos + EVENT_HEADER + buf.readUInt32BE(pos + 9);
      if (end > buf.length) break;
      // From `buf` itself, not a view of the record: msgpackr keeps one DataView per buffer it reads.
      const record = this.#unpackr.unpack(buf, { start: pos + EVENT_HEADER, end }) as Record<string, unknown>;
      handler.event(record, buf.readDoubleBE(pos + 1));
      pos = end;
    }
    if (pos < buf.length) this.#rest = buf.subarray(pos);
  }
}
