import { Packr } from "msgpackr";
import { ForwardInvalidRecordError } from "../errors.js";
import { KeyCache, type CachedKey } from "./key-cache.js";
import { maxUtf8Bytes, writeAsciiFixStr, writeHeader, writeNumber, writeUtf8Str } from "./msgpack.js";
import { isPlainObject } from "./plain-object.js";

const MAX_DEPTH = 512;
/** Strings up to this many UTF-16 units are written without counting their bytes first. */
const ONE_PASS_MAX = 4096;
/** msgpackr's REUSE_BUFFER_MODE | RESET_BUFFER_MODE: pack into msgpackr's own reused buffer. */
const REUSE_AND_RESET = 512 | 1024;
type PackTarget = Buffer & { start: number; end: number };

/**
 * A buffer owned by someone else (a batch) that a record is encoded into. Its owner alone allocates: when the
 * record needs more room, the encoder asks it to grow.
 */
export interface EncodeTarget {
  /** The buffer to write into. */
  readonly buf: Buffer;
  /** Replaces `buf` by a buffer of at least `min` bytes that starts with the same `used` bytes; returns it. */
  grow(min: number, used: number): Buffer;
}

/**
 * A msgpack encoder specialised for JSON-like records (plain objects, arrays, strings, numbers, booleans,
 * null): the shape of every log line and uWSGI stats document. Output is standard msgpack in the smallest
 * forms (fixmap/fixstr/fixint..., integers up to 2^53 as integers, other numbers as float64), a Date as its
 * ISO 8601 string (as JSON writes it); anything else (Buffer, Map, BigInt...) is delegated to msgpackr. Encodes in
 * place into its target, with no copy. Map keys it has written before are copied from its KeyCache.
 */
export class RecordEncoder {
  #target: EncodeTarget | undefined;
  #buf: Buffer = Buffer.alloc(0);
  /** A view of `#buf`, to write cached keys a word at a time. */
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, 0);
  #pos = 0;
  readonly #keys = new KeyCache();
  readonly #fallback = new Packr({
    useRecords: false,
    encodeUndefinedAsNil: true,
    variableMapSize: true,
  });

  /**
   * Encodes `record` into `target` from `pos`; returns where it ends. Top-level keys in `floatFields` holding
   * numbers are written as float64, whole numbers included. A few bytes past the returned end may be written too.
   * Throws FORWARD_INVALID_RECORD (`target` from `pos` may then hold garbage).
   */
  encodeInto(record: object, target: EncodeTarget, pos: number, floatFields?: ReadonlySet<string>): number {
    this.#target = target;
    if (target.buf !== this.#buf) this.#use(target.buf);
    this.#pos = pos;
    try {
      // Records are plain objects but for a few (a Map, a class instance delegated to msgpackr).
      if (!isPlainObject(record)) this.#value(record, 0);
      else if (floatFields !== undefined && floatFields.size > 0) {
        this.#mapWithFloats(record as Record<string, unknown>, floatFields);
      } else this.#map(record as Record<string, unknown>, 0);
    } catch (err) {
      if (err instanceof ForwardInvalidRecordError) throw err;
      throw new ForwardInvalidRecordError(`record cannot be encoded as msgpack: ${String(err)}`, err);
    } finally {
      this.#target = undefined;
    }
    return this.#pos;
  }

  /**
   * Makes room for `n` more bytes. This and the other methods of the path of a small record (`#str`, `#number`,
   * `#key`) keep their rare cases in methods of their own: V8 inlines a method into `#map` only within a budget of
   * bytecode, and what does not fit is called instead (a call for each key and value).
   */
  #ensure(n: number): void {
    if (this.#pos + n > this.#buf.length) this.#grow(n);
  }

  #grow(n: number): void {
    this.#use(this.#target!.grow(this.#pos + n, this.#pos));
  }

  #use(buf: Buffer): void {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  #value(v: unknown, depth: number): void {
    // `typeof v === "..."` compiles to one type test each (a `switch (typeof v)` builds the typeof string);
    // numbers first: they are most of a stats document's values.
    if (typeof v === "number") {
      this.#number(v);
    } else if (typeof v === "string") {
      this.#str(v);
    } else if (typeof v === "object") {
      if (v === null) {
        this.#ensure(1);
        this.#buf[this.#pos++] = 0xc0;
      } else if (depth > MAX_DEPTH) {
        throw new ForwardInvalidRecordError(`record is nested more than ${MAX_DEPTH} deep`);
      } else if (Array.isArray(v)) {
        this.#array(v, depth);
      } else if (isPlainObject(v)) {
        this.#map(v as Record<string, unknown>, depth);
      } else if (v instanceof Date) {
        this.#date(v);
      } else {
        this.#delegate(v);
      }
    } else if (typeof v === "boolean") {
      this.#ensure(1);
      this.#buf[this.#pos++] = v ? 0xc3 : 0xc2;
    } else if (v === undefined) {
      this.#ensure(1);
      this.#buf[this.#pos++] = 0xc0;
    } else {
      this.#delegate(v);
    }
  }

  /**
   * A Date in a record: what `JSON.stringify` writes for it, an ISO 8601 string (nil for an invalid one). msgpack's
   * timestamp extension (-1), msgpackr's form, is refused by Fluentd (`MessagePack::UnknownExtTypeError`) with every
   * other event of its chunk.
   */
  #date(d: Date): void {
    const ms = d.getTime();
    if (Number.isNaN(ms)) {
      this.#ensure(1);
      this.#buf[this.#pos++] = 0xc0;
    } else this.#str(d.toISOString());
  }

  #delegate(v: unknown): void {
    const t = this.#fallback.pack(v, REUSE_AND_RESET) as PackTarget;
    const len = t.end - t.start;
    this.#ensure(len);
    t.copy(this.#buf, this.#pos, t.start, t.end);
    this.#pos += len;
  }

  #array(a: unknown[], depth: number): void {
    const n = a.length;
    this.#ensure(5);
    this.#pos = writeHeader(this.#buf, this.#pos, "array", n);
    for (let i = 0; i < n; i++) this.#value(a[i], depth + 1);
  }

  #map(o: Record<string, unknown>, depth: number): void {
    this.#ensure(1);
    const headerAt = this.#pos++;
    let n = 0;
    let place: CachedKey | undefined = this.#keys.root;
    for (const key in o) {
      place = this.#key(place, key);
      const v = o[key];
      // Numbers and strings inline: #value is recursive, so V8 does not inline it here.
      if (typeof v === "number") this.#number(v);
      else if (typeof v === "string") this.#str(v);
      else this.#value(v, depth + 1);
      n++;
    }
    this.#mapHeader(headerAt, n);
  }

  /** Small counters, most numbers of a stats document, skip the call to writeNumber (too large to inline). */
  #number(v: number): void {
    this.#ensure(9);
    if (v >= 0 && v < 0x80 && (v | 0) === v) this.#buf[this.#pos++] = v;
    else if (!Number.isInteger(v)) this.#float64(v);
    else this.#pos = writeNumber(this.#buf, this.#pos, v);
  }

  /** A float64 through the DataView: a quarter of the cost of `Buffer#writeDoubleBE`, which checks its arguments. */
  #float64(v: number): void {
    const pos = this.#pos;
    this.#buf[pos] = 0xcb;
    this.#view.setFloat64(pos + 1, v);
    this.#pos = pos + 9;
  }

  /** Writes `key`, after `prev` in its map, from the cache when it can; returns what the next key comes after. */
  #key(prev: CachedKey | undefined, key: string): CachedKey | undefined {
    const cached = prev?.next(key);
    if (cached === undefined) this.#str(key);
    else this.#cachedKey(cached);
    return cached;
  }

  /** Copies a cached key a 32-bit word at a time, so up to 3 bytes past its end (room made, not yet output). */
  #cachedKey(key: CachedKey): void {
    const words = key.words;
    const n = words.length;
    this.#ensure(4 * n);
    const view = this.#view;
    const pos = this.#pos;
    for (let i = 0; i < n; i++) view.setInt32(pos + 4 * i, words[i]!, true);
    this.#pos = pos + key.size;
  }

  /** Writes the header of the map of `n` entries that starts at `headerAt`, moving its entries when needed. */
  #mapHeader(headerAt: number, n: number): void {
    // Inline-sized for the common fixmap; more than 15 keys make room for a map16/map32 header after the fact.
    if (n < 16) this.#buf[headerAt] = 0x80 | n;
    else this.#widenMapHeader(headerAt, n);
  }

  #widenMapHeader(headerAt: number, n: number): void {
    const extra = n <= 0xffff ? 2 : 4;
    this.#ensure(extra);
    const buf = this.#buf;
    buf.copyWithin(headerAt + 1 + extra, headerAt + 1, this.#pos);
    this.#pos += extra;
    writeHeader(buf, headerAt, "map", n);
  }

  /** A top-level map like `#map`, with the numbers of `floatFields` keys written as float64. */
  #mapWithFloats(o: Record<string, unknown>, floatFields: ReadonlySet<string>): void {
    this.#ensure(1);
    const headerAt = this.#pos++;
    let n = 0;
    let place: CachedKey | undefined = this.#keys.root;
    for (const key in o) {
      place = this.#key(place, key);
      const v = o[key];
      if (typeof v === "number" && floatFields.has(key)) {
        this.#ensure(9);
        this.#float64(v);
      } else this.#value(v, 1);
      n++;
    }
    this.#mapHeader(headerAt, n);
  }

  #str(s: string): void {
    // A fixstr holds fewer than 32 bytes; the JS loop beats a native write for such short strings.
    if (s.length < 32) {
      this.#ensure(1 + s.length);
      const end = writeAsciiFixStr(this.#buf, this.#pos, s);
      if (end >= 0) this.#pos = end;
      else this.#utf8Str(s);
    } else this.#utf8Str(s);
  }

  /** Any string, as UTF-8: in one pass up to ONE_PASS_MAX units, counted first beyond (not to reserve 3× its size). */
  #utf8Str(s: string): void {
    if (s.length <= ONE_PASS_MAX) {
      this.#ensure(5 + maxUtf8Bytes(s.length));
      this.#pos = writeUtf8Str(this.#buf, this.#pos, s);
      return;
    }
    const bytes = Buffer.byteLength(s, "utf8");
    this.#ensure(5 + bytes);
    const pos = writeHeader(this.#buf, this.#pos, "str", bytes);
    this.#pos = pos + this.#buf.write(s, pos, bytes, "utf8");
  }
}
