import { randomFillSync } from "node:crypto";

/**
 * One encoded frame on its way to a server, as everyone but its store sees it: read-only. Its store (FrameStore)
 * is its one owner from seal to settle: it alone changes a frame's fields (through `MutableFrame`), when the sink
 * and the pool tell it what happened (taken to be sent, written, compressed, settled).
 */
export interface Frame {
  /** Creation order; lower = emitted earlier. */
  readonly seq: number;
  /** The complete msgpack frame; while `compressing`, the raw entries (counted against the limit until gzipped). */
  readonly bytes: Buffer;
  /**
   * `bytes.length`, counted against the limits; kept when a disk store lets go of `bytes` (the frame is then read
   * back from its file before it is sent).
   */
  readonly size: number;
  /** Number of events inside. */
  readonly events: number;
  /** The tag of its events, encoded (UTF-8). */
  readonly tag: Buffer;
  /** Ack id (base64 of 16 random bytes) when acks are required. */
  readonly chunk: string | undefined;
  /** The batch buffer `bytes` is a view of, reused once the frame is settled by its server (or gzipped). */
  readonly backing: Buffer | undefined;
  /** CompressedPackedForward: the entries are being gzipped off the caller's stack; not sendable yet. */
  readonly compressing: boolean;
  /** How many times it was taken to be sent. */
  readonly attempts: number;
  /** A socket took every byte of it once (counted in `sent`). */
  readonly written: boolean;
  /** Settled (acked, written, or dropped): no longer tracked. */
  readonly settled: boolean;
}

/** A frame as its store changes it. Only `newFrame` and the FrameStore implementations use this type. */
export type MutableFrame = { -readonly [K in keyof Frame]: Frame[K] };

/** What a sealed batch (or a replayed record) gives a new frame. */
export interface FrameContent extends Pick<Frame, "bytes" | "events" | "tag" | "chunk" | "backing"> {
  /** Its entries are to be gzipped before it can be sent (CompressedPackedForward). Default false. */
  readonly compress?: boolean;
  /** Bytes counted for it when `bytes` is not loaded (a frame replayed from disk). Default `bytes.length`. */
  readonly size?: number;
}

/**
 * A frame `seq` holding `content`, not yet written: in `spare`'s object when one is given (a frame evicted before it
 * was ever written, which nothing else holds), else in a new one.
 */
export function newFrame(seq: number, content: FrameContent, spare?: Frame): Frame {
  const size = content.size ?? content.bytes.length;
  const compressing = content.compress === true;
  if (spare === undefined) {
    return {
      seq,
      bytes: content.bytes,
      size,
      events: content.events,
      tag: content.tag,
      chunk: content.chunk,
      backing: content.backing,
      compressing,
      attempts: 0,
      written: false,
      settled: false,
    };
  }
  const frame = spare as MutableFrame;
  frame.seq = seq;
  frame.bytes = content.bytes;
  frame.size = size;
  frame.events = content.events;
  frame.tag = content.tag;
  frame.chunk = content.chunk;
  frame.backing = content.backing;
  frame.compressing = compressing;
  frame.attempts = 0;
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
