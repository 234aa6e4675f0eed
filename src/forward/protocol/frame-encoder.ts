import { headerSize, writeHeader, writeStr, writeUint } from "./msgpack.js";

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

/** Bytes `writeMessageStart` writes before the time: the array header and the tag. */
export function messageStartSize(tag: Buffer): number {
  return 1 + headerSize("str", tag.length) + tag.length;
}

/**
 * Writes the start of a Message-mode frame, `[tag, time,` i.e. fixarray(3) + the tag + the time, at `pos`;
 * returns the new position (the record follows). With acks the frame becomes `[tag, time, record, {chunk}]`:
 * `copyMessageWithChunk` rewrites the header to fixarray(4) and appends the option map.
 */
export function writeMessageStart(
  buf: Buffer,
  pos: number,
  tag: Buffer,
  seconds: number,
  nanos: number,
  eventTime: boolean,
): number {
  buf[pos] = 0x93;
  pos = writeStr(buf, pos + 1, tag);
  return writeTime(buf, pos, seconds, nanos, eventTime);
}

/**
 * Copies the Message-mode frame `message` (`[tag, time, record]`) into `out` at `pos` as `[tag, time, record,
 * {chunk}]`; returns the new position. Room: `message.length + MAX_OPTIONS_SIZE`.
 */
export function copyMessageWithChunk(out: Buffer, pos: number, message: Buffer, chunk: string): number {
  if (message[0] !== 0x93) throw new TypeError("a Message frame must be a msgpack fixarray of 3 elements");
  out[pos] = 0x94;
  pos += 1 + message.copy(out, pos + 1, 1);
  return writeOptions(out, pos, { chunk });
}

/**
 * A complete PackedForward-shaped frame `[tag, bin body, options]` built around `body`: the gzip of the entries for
 * CompressedPackedForward (with `compressed: "gzip"` in `options`), or the entries themselves.
 */
export function encodePackedFrame(tag: Buffer, body: Buffer, options: FrameOptions): Buffer {
  const head = maxFrameHeaderSize(tag.length);
  const frame = Buffer.allocUnsafe(head + body.length + MAX_OPTIONS_SIZE);
  const start = writeFrameHeaderBefore(frame, head, tag, "PackedForward", options.size ?? 0, body.length);
  body.copy(frame, head);
  const end = writeOptions(frame, head + body.length, options);
  return frame.subarray(start, end);
}

/** The tag of heartbeat messages: they carry no event, so no store ever sees it. */
export const HEARTBEAT_TAG = "uwsgi-forward.heartbeat";

/**
 * A heartbeat: a Forward-mode message with no entries that asks for an ack, `[tag, [], {chunk}]`. Fluentd and
 * Fluent Bit acknowledge it and emit nothing: proof that the server reads and answers.
 */
export function encodeHeartbeat(chunk: string): Buffer {
  const frame = Buffer.allocUnsafe(HEARTBEAT_TAG.length + chunk.length + 32);
  let pos = writeHeader(frame, 0, "array", 3);
  pos = writeStr(frame, pos, HEARTBEAT_TAG);
  pos = writeHeader(frame, pos, "array", 0);
  pos = writeOptions(frame, pos, { chunk });
  return frame.subarray(0, pos);
}
