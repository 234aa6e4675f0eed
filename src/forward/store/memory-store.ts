import type { Frame, MutableFrame } from "../batching/frame.js";
import type { FrameStore } from "./frame-store.js";

/**
 * The frame store in memory (no `bufferPath`): everything sent and not yet settled (acknowledged, or written when
 * acks are off), measured in bytes against `bufferLimitBytes`: the open batches (counted here by the Batcher), the
 * frames waiting for a connection (FIFO) and the frames in flight on a connection; and the `flush()` calls waiting
 * for it to move on.
 */
export class MemoryFrameStore implements FrameStore {
  /**
   * Frames waiting for a connection, FIFO, in a ring (a power-of-two array that only grows): a steady stream of
   * frames moves through it without reallocating, so an outage at full speed makes no garbage here.
   */
  #ring: (Frame | undefined)[] = new Array<Frame | undefined>(16).fill(undefined);
  #head = 0;
  #pending = 0;
  /** Unsettled frames by seq, in creation order (so the first key is the oldest). */
  readonly #unsettled = new Map<number, Frame>();
  readonly #limitBytes: number;
  #frameBytes = 0;
  #frameEvents = 0;
  #openBytes = 0;
  #openEvents = 0;
  readonly #waiters: { target: number; resolve: () => void }[] = [];

  /** `limitBytes`: the limit the overflow policy applies (`bufferLimitBytes`). */
  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  /** Total buffered bytes, compared with the limit. */
  get bytes(): number {
    return this.#frameBytes + this.#openBytes;
  }

  /** `bufferLimitBytes`. */
  get limitBytes(): number {
    return this.#limitBytes;
  }

  /** Bytes of the open batches. */
  protected get openBytes(): number {
    return this.#openBytes;
  }

  /** Bytes of unsettled frames. */
  get frameBytes(): number {
    return this.#frameBytes;
  }

  /** Events in unsettled frames. */
  get frameEvents(): number {
    return this.#frameEvents;
  }

  /** Events in the open batches. */
  get openEvents(): number {
    return this.#openEvents;
  }

  /** Frames waiting for a connection. */
  get pendingCount(): number {
    return this.#pending;
  }

  /** Unsettled frames (pending + in flight). */
  get frameCount(): number {
    return this.#unsettled.size;
  }

  /** Seq of the oldest unsettled frame, or Infinity when none. */
  get oldestSeq(): number {
    const first = this.#unsettled.keys().next();
    return first.done ? Infinity : first.value;
  }

  /** An event of `bytes` entered an open batch. */
  openAdded(bytes: number): void {
    this.#openBytes += bytes;
    this.#openEvents++;
  }

  /** An open batch of `bytes` and `events` was sealed (its frames follow through `add`). */
  openSealed(bytes: number, events: number): void {
    this.#openBytes -= bytes;
    this.#openEvents -= events;
  }

  /** Adds a new frame at the back of the queue. */
  add(frame: Frame): void {
    this.#unsettled.set(frame.seq, frame);
    this.#frameBytes += frame.size;
    this.#frameEvents += frame.events;
    if (this.#pending === this.#ring.length) this.#setQueue(this.#queued(), this.#ring.length * 2);
    this.#ring[(this.#head + this.#pending) & (this.#ring.length - 1)] = frame;
    this.#pending++;
  }

  /** The next frame to send, left in place. */
  peek(): Frame | undefined {
    return this.#pending > 0 ? this.#ring[this.#head] : undefined;
  }

  /** Takes the next frame to send. */
  shift(): Frame | undefined {
    if (this.#pending === 0) return undefined;
    const frame = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#ring.length - 1);
    this.#pending--;
    return frame;
  }

  /** Puts frames that were in flight back at the front, oldest first, to be re-sent. */
  returned(frames: Frame[]): void {
    const live = frames.filter((f) => !f.settled).sort((a, b) => a.seq - b.seq);
    if (live.length === 0) return;
    const queue = live.concat(this.#queued());
    let capacity = this.#ring.length;
    while (capacity < queue.length) capacity *= 2;
    this.#setQueue(queue, capacity);
  }

  /** The waiting frames, in order. */
  #queued(): Frame[] {
    const out: Frame[] = [];
    const mask = this.#ring.length - 1;
    for (let i = 0; i < this.#pending; i++) out.push(this.#ring[(this.#head + i) & mask]!);
    return out;
  }

  /** Replaces the waiting frames by `frames`, in a ring of `capacity` (a power of two, at least `frames.length`). */
  #setQueue(frames: Frame[], capacity: number): void {
    const ring = new Array<Frame | undefined>(capacity).fill(undefined);
    for (let i = 0; i < frames.length; i++) ring[i] = frames[i];
    this.#ring = ring;
    this.#head = 0;
    this.#pending = frames.length;
  }

  /**
   * A frame finished compressing: `bytes` is now the whole frame, and the batch buffer its entries were a view of is
   * let go (`backing` becomes undefined); false when it was dropped meanwhile.
   */
  compressed(frame: Frame, bytes: Buffer): boolean {
    const f = frame as MutableFrame;
    f.compressing = false;
    f.backing = undefined;
    if (f.settled) return false;
    this.#frameBytes += bytes.length - f.size;
    f.bytes = bytes;
    f.size = bytes.length;
    return true;
  }

  /** A connection took `frame` to write it: one more attempt. */
  taken(frame: Frame): void {
    (frame as MutableFrame).attempts++;
  }

  /** A socket took every byte of `frame`; true the first time (its events count as sent once, however often). */
  written(frame: Frame): boolean {
    if (frame.written) return false;
    (frame as MutableFrame).written = true;
    return true;
  }

  /** Marks a frame delivered (or given up); returns false if it was already settled. */
  settle(frame: Frame): boolean {
    if (frame.settled) return false;
    (frame as MutableFrame).settled = true;
    this.#unsettled.delete(frame.seq);
    this.#frameBytes -= frame.size;
    this.#frameEvents -= frame.events;
    this.#releaseWaiters();
    return true;
  }

  /**
   * Drops pending frames from the front until `needed` bytes are free or none is left; returns the dropped events.
   * `recycle` gets each dropped frame, whose buffer no socket reads (pending frames are not in flight).
   */
  dropOldestPending(needed: number, recycle: (frame: Frame) => void): { frames: number; events: number } {
    let frames = 0;
    let events = 0;
    let freed = 0;
    while (freed < needed) {
      const frame = this.shift();
      if (!frame) break;
      if (!this.settle(frame)) continue;
      recycle(frame);
      freed += frame.size;
      frames++;
      events += frame.events;
    }
    return { frames, events };
  }

  /** Gives up every frame (at close): settles them all, empties the queue and resolves every `flush()`. */
  close(): number {
    for (const frame of this.unsettledFrames()) this.settle(frame);
    this.#setQueue([], 16);
    this.releaseAllWaiters();
    return 0;
  }

  /** Every unsettled frame, oldest first (a copy: settling them while iterating is safe). */
  protected unsettledFrames(): Frame[] {
    return [...this.#unsettled.values()];
  }

  /** Resolves every `flush()` waiting (at close). */
  protected releaseAllWaiters(): void {
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** Calls `resolve` once every frame with a seq up to `target` has left the buffer (or at `clear`). */
  waitPast(target: number, resolve: () => void): void {
    if (this.oldestSeq > target) resolve();
    else this.#waiters.push({ target, resolve });
  }

  #releaseWaiters(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    const oldest = this.oldestSeq;
    while (waiters.length > 0 && waiters[0]!.target < oldest) waiters.shift()!.resolve();
  }
}
