import { Packr } from "msgpackr";
import { ForwardInvalidRecordError } from "./errors.js";

const MAX_DEPTH = 512;
/** msgpackr's REUSE_BUFFER_MODE | RESET_BUFFER_MODE (see batcher.ts). */
const REUSE_AND_RESET = 512 | 1024;
type PackTarget = Buffer & { start: number; end: number };
const TWO_32 = 2 ** 32;

/**
 * A msgpack encoder specialised for JSON-like records (plain objects, arrays, strings, numbers, booleans,
 * null): the shape of every log line and uWSGI stats document. Output is standard msgpack in the smallest
 * forms (fixmap/fixstr/fixint..., integers up to 2^53 as integers, other numbers as float64); anything else
 * (Buffer, Date, Map, BigInt...) is delegated to msgpackr. Encodes into one reused scratch buffer.
 */
export class RecordEncoder {
  /**
   * The buffer holding the last record, which ends at `end`: the reused scratch buffer after `encode` (the
   * record is `buf[0..end)`), the caller's buffer or a larger copy of it after `encodeInto`.
   */
  buf: Buffer;
  /** End of the last encoded record. */
  end = 0;
  private pos = 0;
  private scratch: Buffer = Buffer.allocUnsafe(64 * 1024);
  private readonly fallback = new Packr({
    useRecords: false,
    encodeUndefinedAsNil: true,
    variableMapSize: true,
  });

  constructor() {
    this.buf = this.scratch;
  }

  /** Encodes `record`; the bytes are `buf[0..end)` until the next call. Throws FORWARD_INVALID_RECORD. */
  encode(record: object, floatFields?: ReadonlySet<string>): void {
    this.encodeInto(record, this.scratch, 0, floatFields);
    this.scratch = this.buf;
  }

  /**
   * Encodes `record` into `target` from `pos`, with no intermediate copy. When the record does not fit,
   * `buf` becomes a larger buffer holding a copy of `target[0..pos)` followed by the record; either way the
   * record is `buf[pos..end)`. Top-level keys in `floatFields` holding numbers are written as float64.
   * Throws FORWARD_INVALID_RECORD (`target` from `pos` may then hold garbage).
   */
  encodeInto(record: object, target: Buffer, pos: number, floatFields?: ReadonlySet<string>): void {
    this.buf = target;
    this.pos = pos;
    try {
      if (floatFields !== undefined && floatFields.size > 0 && isPlainObject(record)) {
        this.mapWithFloats(record as Record<string, unknown>, floatFields);
      } else {
        this.value(record, 0);
      }
    } catch (err) {
      if (err instanceof ForwardInvalidRecordError) throw err;
      throw new ForwardInvalidRecordError(`record cannot be encoded as msgpack: ${String(err)}`, err);
    }
    this.end = this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        this.str(v);
        return;
      case "number":
        this.num(v);
        return;
      case "boolean":
        this.ensure(1);
        this.buf[this.pos++] = v ? 0xc3 : 0xc2;
        return;
      case "undefined":
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return;
      case "object": {
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
          return;
        }
        if (depth > MAX_DEPTH)
          throw new ForwardInvalidRecordError(`record is nested more than ${MAX_DEPTH} deep`);
        if (Array.isArray(v)) {
          this.array(v, depth);
          return;
        }
        const proto = Object.getPrototypeOf(v);
        if (proto === Object.prototype || proto === null) {
          this.map(v as Record<string, unknown>, depth);
          return;
        }
        break;
      }
    }
    this.delegate(v);
  }

  private delegate(v: unknown): void {
    const t = this.fallback.pack(v, REUSE_AND_RESET) as PackTarget;
    const len = t.end - t.start;
    this.ensure(len);
    t.copy(this.buf, this.pos, t.start, t.end);
    this.pos += len;
  }

  private array(a: unknown[], depth: number): void {
    const n = a.length;
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x90 | n;
    } else if (n <= 0xffff) {
      buf[this.pos] = 0xdc;
      buf[this.pos + 1] = n >>> 8;
      buf[this.pos + 2] = n;
      this.pos += 3;
    } else {
      buf[this.pos] = 0xdd;
      buf.writeUInt32BE(n, this.pos + 1);
      this.pos += 5;
    }
    for (let i = 0; i < n; i++) this.value(a[i], depth + 1);
  }

  private map(o: Record<string, unknown>, depth: number): void {
    this.ensure(1);
    const headerAt = this.pos++;
    let n = 0;
    for (const key in o) {
      this.str(key);
      this.value(o[key], depth + 1);
      n++;
    }
    this.mapHeader(headerAt, n);
  }

  /** Writes the header of the map of `n` entries that starts at `headerAt`, moving its entries when needed. */
  private mapHeader(headerAt: number, n: number): void {
    if (n < 16) {
      this.buf[headerAt] = 0x80 | n;
      return;
    }
    // More than 15 keys: make room for a map16/map32 header after the fact.
    const extra = n <= 0xffff ? 2 : 4;
    this.ensure(extra);
    const buf = this.buf;
    buf.copyWithin(headerAt + 1 + extra, headerAt + 1, this.pos);
    this.pos += extra;
    if (extra === 2) {
      buf[headerAt] = 0xde;
      buf[headerAt + 1] = n >>> 8;
      buf[headerAt + 2] = n;
    } else {
      buf[headerAt] = 0xdf;
      buf.writeUInt32BE(n, headerAt + 1);
    }
  }

  /** A top-level map like `map`, with the numbers of `floatFields` keys written as float64. */
  private mapWithFloats(o: Record<string, unknown>, floatFields: ReadonlySet<string>): void {
    this.ensure(1);
    const headerAt = this.pos++;
    let n = 0;
    for (const key in o) {
      this.str(key);
      const v = o[key];
      if (typeof v === "number" && floatFields.has(key)) this.float64(v);
      else this.value(v, 1);
      n++;
    }
    this.mapHeader(headerAt, n);
  }

  private float64(v: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(v, this.pos + 1);
    this.pos += 9;
  }

  private str(s: string): void {
    const len = s.length;
    if (len < 32) {
      this.ensure(1 + len * 3);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          p = -1;
          break;
        }
        buf[p++] = c;
      }
      if (p >= 0) {
        buf[start] = 0xa0 | len;
        this.pos = p;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, "utf8");
    this.ensure(5 + bytes);
    const buf = this.buf;
    let p = this.pos;
    if (bytes < 32) {
      buf[p++] = 0xa0 | bytes;
    } else if (bytes <= 0xff) {
      buf[p++] = 0xd9;
      buf[p++] = bytes;
    } else if (bytes <= 0xffff) {
      buf[p++] = 0xda;
      buf[p++] = bytes >>> 8;
      buf[p++] = bytes;
    } else {
      buf[p++] = 0xdb;
      buf.writeUInt32BE(bytes, p);
      p += 4;
    }
    this.pos = p + buf.write(s, p, bytes, "utf8");
  }

  private num(v: number): void {
    this.ensure(9);
    const buf = this.buf;
    const p = this.pos;
    if (Number.isInteger(v) && v <= Number.MAX_SAFE_INTEGER && v >= Number.MIN_SAFE_INTEGER) {
      if (v >= 0) {
        if (v < 0x80) {
          buf[p] = v;
          this.pos = p + 1;
        } else if (v <= 0xff) {
          buf[p] = 0xcc;
          buf[p + 1] = v;
          this.pos = p + 2;
        } else if (v <= 0xffff) {
          buf[p] = 0xcd;
          buf[p + 1] = v >>> 8;
          buf[p + 2] = v;
          this.pos = p + 3;
        } else if (v <= 0xffffffff) {
          buf[p] = 0xce;
          buf.writeUInt32BE(v, p + 1);
          this.pos = p + 5;
        } else {
          buf[p] = 0xcf;
          buf.writeUInt32BE(Math.floor(v / TWO_32), p + 1);
          buf.writeUInt32BE(v >>> 0, p + 5);
          this.pos = p + 9;
        }
      } else if (v >= -32) {
        buf[p] = v & 0xff;
        this.pos = p + 1;
      } else if (v >= -0x80) {
        buf[p] = 0xd0;
        buf[p + 1] = v & 0xff;
        this.pos = p + 2;
      } else if (v >= -0x8000) {
        buf[p] = 0xd1;
        buf.writeInt16BE(v, p + 1);
        this.pos = p + 3;
      } else if (v >= -0x80000000) {
        buf[p] = 0xd2;
        buf.writeInt32BE(v, p + 1);
        this.pos = p + 5;
      } else {
        buf[p] = 0xd3;
        buf.writeBigInt64BE(BigInt(v), p + 1);
        this.pos = p + 9;
      }
      return;
    }
    buf[p] = 0xcb;
    buf.writeDoubleBE(v, p + 1);
    this.pos = p + 9;
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
