/**
 * Small msgpack tools for the test servers and the benchmark receiver: find where one value ends
 * without decoding it (so a stream can be cut into frames cheaply), and decode a Forward frame into
 * its events whatever the mode.
 */
import { gunzipSync } from "node:zlib";
import { Unpackr, addExtension } from "msgpackr";

/** An EventTime as decoded from msgpack ext type 0. */
export interface DecodedEventTime {
  seconds: number;
  nanoseconds: number;
}

addExtension({
  type: 0,
  unpack: (data: Uint8Array): DecodedEventTime => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return { seconds: view.getUint32(0), nanoseconds: view.getUint32(4) };
  },
});

/** The decoder used for frames: plain objects for maps, no record extension. */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/**
 * Offset just past the msgpack value starting at `pos`; when `buf` ends before the value does, a
 * negative number whose absolute value is a lower bound for that end (so a stream reader can wait
 * for that many bytes before trying again). Throws on a byte that starts no msgpack value (0xc1).
 */
export function msgpackEnd(buf: Uint8Array, pos: number): number {
  let pending = 1;
  const len = buf.length;
  while (pending > 0) {
    if (pos >= len) return -(pos + pending);
    const b = buf[pos]!;
    pending--;
    if (b <= 0x7f || b >= 0xe0) {
      pos += 1;
    } else if (b <= 0x8f) {
      pending += (b & 0x0f) * 2;
      pos += 1;
    } else if (b <= 0x9f) {
      pending += b & 0x0f;
      pos += 1;
    } else if (b <= 0xbf) {
      pos += 1 + (b & 0x1f);
    } else {
      const need = HEAD[b - 0xc0]!;
      if (need < 0) throw new Error(`invalid msgpack byte 0x${b.toString(16)} at ${pos}`);
      if (pos + need > len) return -(pos + need);
      switch (b) {
        case 0xc4:
        case 0xd9:
          pos += 2 + buf[pos + 1]!;
          break;
        case 0xc5:
        case 0xda:
          pos += 3 + ((buf[pos + 1]! << 8) | buf[pos + 2]!);
          break;
        case 0xc6:
        case 0xdb:
          pos += 5 + readU32(buf, pos + 1);
          break;
        case 0xc7:
          pos += 3 + buf[pos + 1]!;
          break;
        case 0xc8:
          pos += 4 + ((buf[pos + 1]! << 8) | buf[pos + 2]!);
          break;
        case 0xc9:
          pos += 6 + readU32(buf, pos + 1);
          break;
        case 0xdc:
          pending += (buf[pos + 1]! << 8) | buf[pos + 2]!;
          pos += 3;
          break;
        case 0xdd:
          pending += readU32(buf, pos + 1);
          pos += 5;
          break;
        case 0xde:
          pending += ((buf[pos + 1]! << 8) | buf[pos + 2]!) * 2;
          pos += 3;
          break;
        case 0xdf:
          pending += readU32(buf, pos + 1) * 2;
          pos += 5;
          break;
        default:
          pos += need;
      }
    }
  }
  return pos <= len ? pos : -pos;
}

// Bytes needed to know a value's size (head included) for 0xc0..0xdf; -1 = never used.
const HEAD = [
  1, -1, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5,
];

function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) >>> 0) + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!);
}

/**
 * Cuts a byte stream into complete msgpack values. `push` returns the complete values' byte ranges;
 * partial data is kept for the next chunk. `maxBytes` bounds what is kept for one value.
 */
export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = 0;
  bytes = 0;

  constructor(private readonly maxBytes = 256 * 1024 * 1024) {}

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.bytes += chunk.length;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need) return;
    const buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.need = 0;
    let pos = 0;
    while (pos < buf.length) {
      const end = msgpackEnd(buf, pos);
      if (end < 0) {
        this.need = -end - pos;
        break;
      }
      onFrame(buf.subarray(pos, end));
      pos = end;
    }
    if (pos < buf.length) {
      if (this.need > this.maxBytes) throw new Error(`frame larger than ${this.maxBytes} bytes`);
      const rest = Buffer.from(buf.subarray(pos));
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }
}

/** One event as it arrived. */
export interface DecodedEvent {
  tag: string;
  time: number | DecodedEventTime;
  record: Record<string, unknown>;
}

/** A decoded Forward frame. */
export interface DecodedFrame {
  mode: "Message" | "Forward" | "PackedForward" | "CompressedPackedForward" | "heartbeat";
  tag: string;
  events: DecodedEvent[];
  option: Record<string, unknown> | undefined;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Decodes one frame (one msgpack value) of any of the four event modes, entries included. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const value: unknown = unpackr.unpack(frame);
  if (value === null || value === undefined)
    return { mode: "heartbeat", tag: "", events: [], option: undefined };
  if (!Array.isArray(value) || typeof value[0] !== "string") throw new Error("frame is not [tag, ...]");
  const tag = value[0];
  const second: unknown = value[1];
  if (Array.isArray(second)) {
    const option = value[2] as Record<string, unknown> | undefined;
    const events = second.map((entry: unknown) => {
      const [time, record] = entry as [number | DecodedEventTime, Record<string, unknown>];
      return { tag, time, record };
    });
    return { mode: "Forward", tag, events, option };
  }
  if (isBytes(second) || typeof second === "string") {
    const option = value[2] as Record<string, unknown> | undefined;
    const compressed = option?.compressed === "gzip";
    let entries: Uint8Array = isBytes(second) ? second : Buffer.from(second, "utf8");
    if (compressed) entries = gunzipSync(entries);
    const events: DecodedEvent[] = [];
    if (entries.length > 0) {
      unpackr.unpackMultiple(entries, (entry: unknown) => {
        const [time, record] = entry as [number | DecodedEventTime, Record<string, unknown>];
        events.push({ tag, time, record });
      });
    }
    return { mode: compressed ? "CompressedPackedForward" : "PackedForward", tag, events, option };
  }
  const option = value[3] as Record<string, unknown> | undefined;
  return {
    mode: "Message",
    tag,
    events: [{ tag, time: second as number | DecodedEventTime, record: value[2] as Record<string, unknown> }],
    option,
  };
}
