import { gzipSync } from "node:zlib";

/**
 * Pure Forward protocol v1 frame encoding: bytes in, bytes out, no sockets.
 * Entries are the msgpack encodings of `[time, record]`, concatenated; frames wrap them per event mode.
 */

/** The four event modes of the Forward protocol v1. */
export type ForwardMode = "Message" | "Forward" | "PackedForward" | "CompressedPackedForward";

/** The option map appended to a frame: `size` = event count, `chunk` = ack id, `compressed` = "gzip". */
export interface FrameOptions {
  size?: number;
  chunk?: string;
  compressed?: "gzip";
}

/** Bytes an EventTime takes (`d7 00` + 8 bytes). */
export const EVENT_TIME_SIZE = 10;
/** Upper bound of an encoded time (EventTime or uint64 seconds). */
export const MAX_TIME_SIZE = 10;

/** Writes `[time,` i.e. fixarray(2) + the time at `pos`; returns the new position. */
export function writeEntryStart(
  buf: Buffer,
  pos: number,
  seconds: number,
  nanos: number,
  eventTime: boolean,
): number {
  buf[pos++] = 0x92;
  return writeTime(buf, pos, seconds, nanos, eventTime);
}

/** Writes a time as EventTime (ext 0) or as the smallest msgpack unsigned integer of the seconds. */
export function writeTime(
  buf: Buffer,
  pos: number,
  seconds: number,
  nanos: number,
  eventTime: boolean,
): number {
  if (eventTime) {
    buf[pos] = 0xd7;
    buf[pos + 1] = 0x00;
    buf[pos + 2] = seconds >>> 24;
    buf[pos + 3] = seconds >>> 16;
    buf[pos + 4] = seconds >>> 8;
    buf[pos + 5] = seconds;
    buf[pos + 6] = nanos >>> 24;
    buf[pos + 7] = nanos >>> 16;
    buf[pos + 8] = nanos >>> 8;
    buf[pos + 9] = nanos;
    return pos + 10;
  }
  return writeUint(buf, pos, seconds);
}

/** Writes a non-negative integer in its smallest msgpack form. */
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
    buf.writeUInt16BE(n, pos + 1);
    return pos + 3;
  }
  if (n <= 0xffffffff) {
    buf[pos] = 0xce;
    buf.writeUInt32BE(n, pos + 1);
    return pos + 5;
  }
  buf[pos] = 0xcf;
  buf.writeBigUInt64BE(BigInt(n), pos + 1);
  return pos + 9;
}

/** Size of a msgpack str/bin/array header for `len` (kind decides the marker family). */
export function headerSize(kind: "str" | "bin" | "array", len: number): number {
  if (kind === "str") return len < 32 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
  if (kind === "bin") return len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
  return len < 16 ? 1 : len <= 0xffff ? 3 : 5;
}

/** Writes a msgpack str/bin/array header; returns the new position. */
export function writeHeader(buf: Buffer, pos: number, kind: "str" | "bin" | "array", len: number): number {
  const size = headerSize(kind, len);
  if (size === 1) {
    buf[pos] = (kind === "str" ? 0xa0 : 0x90) | len;
    return pos + 1;
  }
  const markers = kind === "str" ? [0xd9, 0xda, 0xdb] : kind === "bin" ? [0xc4, 0xc5, 0xc6] : [0, 0xdc, 0xdd];
  if (len <= 0xff && kind !== "array") {
    buf[pos] = markers[0]!;
    buf[pos + 1] = len;
    return pos + 2;
  }
  if (len <= 0xffff) {
    buf[pos] = markers[1]!;
    buf.writeUInt16BE(len, pos + 1);
    return pos + 3;
  }
  buf[pos] = markers[2]!;
  buf.writeUInt32BE(len, pos + 1);
  return pos + 5;
}

/** Writes a msgpack str; returns the new position. */
export function writeStr(buf: Buffer, pos: number, s: string | Buffer): number {
  const bytes = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  pos = writeHeader(buf, pos, "str", bytes.length);
  bytes.copy(buf, pos);
  return pos + bytes.length;
}

/** Upper bound of the encoded option map. */
export const MAX_OPTIONS_SIZE = 1 + 5 + 9 + 6 + 2 + 64 + 11 + 5;

/** Writes the option map (keys in the order size, chunk, compressed; absent keys omitted); returns the new position. */
export function writeOptions(buf: Buffer, pos: number, options: FrameOptions): number {
  const count = (options.size !== undefined ? 1 : 0) + (options.chunk ? 1 : 0) + (options.compressed ? 1 : 0);
  buf[pos++] = 0x80 | count;
  if (options.size !== undefined) {
    pos = writeStr(buf, pos, "size");
    pos = writeUint(buf, pos, options.size);
  }
  if (options.chunk) {
    pos = writeStr(buf, pos, "chunk");
    pos = writeStr(buf, pos, options.chunk);
  }
  if (options.compressed) {
    pos = writeStr(buf, pos, "compressed");
    pos = writeStr(buf, pos, options.compressed);
  }
  return pos;
}

/** The encoded option map alone. */
export function encodeOptions(options: FrameOptions): Buffer {
  const buf = Buffer.allocUnsafe(MAX_OPTIONS_SIZE);
  return buf.subarray(0, writeOptions(buf, 0, options));
}

/** Worst-case size of a frame header (`[tag, ` + entries header) for a tag of `tagBytes` bytes. */
export function maxFrameHeaderSize(tagBytes: number): number {
  return 1 + 5 + tagBytes + 5;
}

/**
 * Writes the frame header for Forward / PackedForward (`93 <tag> <array or bin header>`) so that it ends
 * exactly at `end` (where the entries begin); returns the start of the frame.
 */
export function writeFrameHeaderBefore(
  buf: Buffer,
  end: number,
  tag: Buffer,
  mode: "Forward" | "PackedForward" | "CompressedPackedForward",
  count: number,
  entriesBytes: number,
): number {
  const entriesHeader = mode === "Forward" ? headerSize("array", count) : headerSize("bin", entriesBytes);
  const start = end - entriesHeader - headerSize("str", tag.length) - tag.length - 1;
  let pos = start;
  buf[pos++] = 0x93;
  pos = writeStr(buf, pos, tag);
  writeHeader(buf, pos, mode === "Forward" ? "array" : "bin", mode === "Forward" ? count : entriesBytes);
  return start;
}

/**
 * Encodes one complete frame from concatenated entries (each entry the msgpack of `[time, record]`).
 * `Message` takes exactly one entry. `chunk` asks the server for an ack.
 */
export function encodeFrame(
  mode: ForwardMode,
  tag: string,
  entries: Buffer,
  count: number,
  chunk?: string,
): Buffer {
  const tagBytes = Buffer.from(tag, "utf8");
  if (mode === "Message") return encodeMessageFrame(tagBytes, entries, chunk);
  let body = entries;
  const options: FrameOptions = { size: count };
  if (chunk) options.chunk = chunk;
  if (mode === "CompressedPackedForward") {
    body = gzipSync(entries);
    options.compressed = "gzip";
  }
  const head = maxFrameHeaderSize(tagBytes.length);
  const buf = Buffer.allocUnsafe(head + body.length + MAX_OPTIONS_SIZE);
  const start = writeFrameHeaderBefore(buf, head, tagBytes, mode, count, body.length);
  body.copy(buf, head);
  const end = writeOptions(buf, head + body.length, options);
  return buf.subarray(start, end);
}

/** A Message-mode frame `[tag, time, record]` (+ `{chunk}` with acks) from one entry `[time, record]`. */
export function encodeMessageFrame(tag: Buffer, entry: Buffer, chunk?: string): Buffer {
  if (entry[0] !== 0x92) throw new TypeError("a Message entry must be a msgpack fixarray of 2 elements");
  const buf = Buffer.allocUnsafe(1 + 5 + tag.length + entry.length - 1 + MAX_OPTIONS_SIZE);
  buf[0] = chunk ? 0x94 : 0x93;
  let pos = writeStr(buf, 1, tag);
  pos += entry.copy(buf, pos, 1);
  if (chunk) pos = writeOptions(buf, pos, { chunk });
  return buf.subarray(0, pos);
}

/** Gzips PackedForward entries for CompressedPackedForward. */
export function gzipEntries(entries: Buffer): Buffer {
  return gzipSync(entries);
}
