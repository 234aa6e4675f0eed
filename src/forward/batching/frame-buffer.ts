import type { Frame } from "./frame.js";

/**
 * Everything sent and not yet settled (acknowledged, or written when acks are off), measured in bytes against
 * `bufferLimitBytes`: the open batches (counted here by the Batcher), the frames waiting for a connection
 * (FIFO) and the frames in flight on a connection; and the `flush()` calls waiting for it to move on.
 */
export class FrameBuffer {
  #queue: Frame[] = [];
  #head = 0;
  /** Unsettled frames by seq, in creation order (so the first key is the oldest). */
  readonly #unsettled = new Map<number, Frame>();
  #frameBytes = 0;
  #frameEvents = 0;
  #openBytes = 0;
  #openEvents = 0;
  readonly #waiters: { target: number; resolve: () => void }[] = [];

  /** Total buffered bytes, compared with the limit. */
  get bytes(): number {
    return this.#frameBytes + this.#openBytes;
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
    return this.#queue.length - this.#head;
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
    this.#frameBytes += frame.bytes.length;
    this.#frameEvents += frame.events;
    this.#queue.push(frame);
  }

  /** The next frame to send, left in place. */
  peek(): Frame | undefined {
    return this.#head < this.#queue.length ? this.#queue[this.#head] : undefined;
  }

  /** Takes the next frame to send. */
  shift(): Frame | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const frame = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as Frame;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return frame;
  }

  /** Puts frames that were in flight back at the front, oldest first, to be re-sent. */
  requeue(frames: Frame[]): void {
    const live = frames.filter((f) => !f.settled).sort((a, b) => a.seq - b.seq);
    if (live.length === 0) return;
    this.#queue = live.concat(this.#queue.slice(this.#head));
    this.#head = 0;
  }

  /** A frame finished compressing: `bytes` is now the whole frame; false when it was dropped meanwhile. */
  compressed(frame: Frame, bytes: Buffer): boolean {
    frame.compressing = false;
    if (frame.settled) return false;
    this.#frameBytes += bytes.length - frame.bytes.length;
    frame.bytes = bytes;
    return true;
  }

  /** Marks a frame delivered (or given up); returns false if it was already settled. */
  settle(frame: Frame): boolean {
    if (frame.settled) return false;
    frame.settled = true;
    this.#unsettled.delete(frame.seq);
    this.#frameBytes -= frame.bytes.length;
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
      freed += frame.bytes.length;
      frames++;
      events += frame.events;
    }
    return { frames, events };
  }

  /** Gives up every frame (at close): settles them all, empties the queue and resolves every `flush()`. */
  clear(): void {
    for (const frame of [...this.#unsettled.values()]) this.settle(frame);
    this.#queue = [];
    this.#head = 0;
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
