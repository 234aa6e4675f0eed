import type { Frame } from "../batching/frame.js";

/**
 * The one owner of every frame from seal to settle: the FIFO of frames waiting for a connection, the frames in
 * flight, and the bytes they count against the limit. `MemoryFrameStore` keeps them in memory; `DiskFrameStore`
 * (`bufferPath`) also keeps them in append-only files that a new sink on the same directory replays.
 */
export interface FrameStore {
  /** Bytes counted against `limitBytes` by the overflow policy (open batches included). */
  readonly bytes: number;
  /** The limit the overflow policy applies: `bufferLimitBytes`, or `diskLimitBytes` while frames go to disk. */
  readonly limitBytes: number;
  /** Bytes of unsettled frames. */
  readonly frameBytes: number;
  /** Events in unsettled frames. */
  readonly frameEvents: number;
  /** Events in the open batches. */
  readonly openEvents: number;
  /** Frames waiting for a connection. */
  readonly pendingCount: number;
  /** Unsettled frames (pending + in flight). */
  readonly frameCount: number;
  /** Seq of the oldest unsettled frame, or Infinity when none. */
  readonly oldestSeq: number;
  /** An event of `bytes` entered an open batch. */
  openAdded(bytes: number): void;
  /** An open batch of `bytes` and `events` was sealed (its frames follow through `add`). */
  openSealed(bytes: number, events: number): void;
  /** A sealed frame joins the back of the queue (on disk: is written to the current segment). */
  add(frame: Frame): void;
  /**
   * A frame finished compressing: `bytes` is now the whole frame, and the batch buffer its entries were a view of is
   * let go (`backing` becomes undefined); false when it was dropped meanwhile.
   */
  compressed(frame: Frame, bytes: Buffer): boolean;
  /** A connection took `frame` (the one `shift` returned) to write it: one more attempt. */
  taken(frame: Frame): void;
  /** A socket took every byte of `frame`; true the first time (its events count as sent once, however often). */
  written(frame: Frame): boolean;
  /** The next frame to send, left in place (on disk: its bytes read back if they were let go). */
  peek(): Frame | undefined;
  /** Takes the next frame to send (the one `peek` returned). */
  shift(): Frame | undefined;
  /** Frames that were in flight on a connection that died: back at the front, oldest first. */
  returned(frames: Frame[]): void;
  /** Marks a frame delivered (or given up); false if it was already settled. */
  settle(frame: Frame): boolean;
  /**
   * Drops pending frames from the front until `needed` bytes are free or none is left. `recycle` gets each dropped
   * frame, whose buffer no socket reads (pending frames are not in flight).
   */
  dropOldestPending(needed: number, recycle: (frame: Frame) => void): { frames: number; events: number };
  /**
   * At close: lets go of every unsettled frame and resolves every `flush()`. Returns the events kept (on disk, for
   * the next sink on the directory: they stay counted in `frameEvents`); the others are given up.
   */
  close(): number;
  /** Calls `resolve` once every frame with a seq up to `target` has left the store (or at `close`). */
  waitPast(target: number, resolve: () => void): void;
}
