import { randomFillSync } from "node:crypto";

/** One encoded frame on its way to a server. */
export interface Frame {
  /** Creation order; lower = emitted earlier. */
  readonly seq: number;
  /** The complete msgpack frame; while `compressing`, the raw entries (counted against the limit until gzipped). */
  bytes: Buffer;
  /**
   * `bytes.length`, counted against the limits; kept when a disk store lets go of `bytes` (the frame is then read
   * back from its file before it is sent).
   */
  size: number;
  /** Number of events inside. */
  readonly events: number;
  /** The tag of its events, encoded (UTF-8). */
  readonly tag: Buffer;
  /** Ack id (base64 of 16 random bytes) when acks are required. */
  readonly chunk: string | undefined;
  /** The batch buffer `bytes` is a view of, reused once the frame is settled by its server (or gzipped). */
  backing: Buffer | undefined;
  /** CompressedPackedForward: the entries are being gzipped off the caller's stack; not sendable yet. */
  compressing: boolean;
  /** How many times it was written to a socket. */
  attempts: number;
  /** When it was last written (ms on the pool's Clock): ack and write deadlines count from here. */
  sentAt: number;
  /** The same moment on `performance.now()`, for the ack latency figures. */
  sentAtPrecise: number;
  /** A socket took every byte of it once (counted in `sent`). */
  written: boolean;
  /** Settled (acked, written, or dropped): no longer tracked. */
  settled: boolean;
}

/** What a sealed batch gives a new frame. */
export type FrameContent = Pick<Frame, "bytes" | "events" | "tag" | "chunk" | "backing">;

/**
 * A frame `seq` holding `content`, not yet written: in `spare`'s object when one is given (a frame evicted before it
 * was ever written, which nothing else holds), else in a new one.
 */
export function newFrame(seq: number, content: FrameContent, spare?: Frame): Frame {
  if (spare === undefined) {
    return {
      seq,
      bytes: content.bytes,
      size: content.bytes.length,
      events: content.events,
      tag: content.tag,
      chunk: content.chunk,
      backing: content.backing,
      compressing: false,
      attempts: 0,
      sentAt: 0,
      sentAtPrecise: 0,
      written: false,
      settled: false,
    };
  }
  const frame = spare as { -readonly [K in keyof Frame]: Frame[K] };
  frame.seq = seq;
  frame.bytes = content.bytes;
  frame.size = content.bytes.length;
  frame.events = content.events;
  frame.tag = content.tag;
  frame.chunk = content.chunk;
  frame.backing = content.backing;
  frame.compressing = false;
  frame.attempts = 0;
  frame.sentAt = 0;
  frame.sentAtPrecise = 0;
  frame.written = false;
  frame.settled = false;
  return spare;
}

const pool = Buffer.allocUnsafe(16 * 256);
let poolPos = pool.length;

/** A fresh chunk id: the base64 of 16 random bytes, as the spec asks. */
export function newChunkId(): string {
  if (poolPos >= pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const id = pool.toString("base64", poolPos, poolPos + 16);
  poolPos += 16;
  return id;
}
