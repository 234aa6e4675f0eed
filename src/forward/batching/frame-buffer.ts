import type { Frame } from "./frame.js";

/**
 * Everything emitted and not yet settled (acknowledged, or written when acks are off), measured in bytes
 * against `bufferLimitBytes`: the open batches (`openBytes`, kept by the sink), the frames waiting for a
 * connection (`pending`, FIFO) and the frames in flight on a connection.
 */
export class FrameBuffer {
  private queue: Frame[] = [];
  private head = 0;
  /** Unsettled frames by seq, in creation order (so the first key is the oldest). */
  private readonly unsettled = new Map<number, Frame>();
  /** Bytes of unsettled frames. */
  frameBytes = 0;
  /** Events in unsettled frames. */
  frameEvents = 0;
  /** Bytes of entries in the open batches. */
  openBytes = 0;
  /** Events in the open batches. */
  openEvents = 0;

  /** Total buffered bytes, compared with the limit. */
  get bytes(): number {
    return this.frameBytes + this.openBytes;
  }

  /** Frames waiting for a connection. */
  get pendingCount(): number {
    return this.queue.length - this.head;
  }

  /** Unsettled frames (pending + in flight). */
  get frameCount(): number {
    return this.unsettled.size;
  }

  /** Seq of the oldest unsettled frame, or Infinity when none. */
  get oldestSeq(): number {
    const first = this.unsettled.keys().next();
    return first.done ? Infinity : first.value;
  }

  /** Adds a new frame at the back of the queue. */
  add(frame: Frame): void {
    this.unsettled.set(frame.seq, frame);
    this.frameBytes += frame.bytes.length;
    this.frameEvents += frame.events;
    this.queue.push(frame);
  }

  /** The next frame to send, left in place. */
  peek(): Frame | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }

  /** Takes the next frame to send. */
  shift(): Frame | undefined {
    if (this.head >= this.queue.length) return undefined;
    const frame = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Frame;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /** Puts frames that were in flight back at the front, oldest first, to be re-sent. */
  requeue(frames: Frame[]): void {
    const live = frames.filter((f) => !f.settled).sort((a, b) => a.seq - b.seq);
    if (live.length === 0) return;
    this.queue = live.concat(this.queue.slice(this.head));
    this.head = 0;
  }

  /** Marks a frame delivered (or given up); returns false if it was already settled. */
  settle(frame: Frame): boolean {
    if (frame.settled) return false;
    frame.settled = true;
    this.unsettled.delete(frame.seq);
    this.frameBytes -= frame.bytes.length;
    this.frameEvents -= frame.events;
    return true;
  }

  /** Drops pending frames from the front until `needed` bytes are free or none is left; returns the dropped events. */
  dropOldestPending(needed: number): { frames: number; events: number } {
    let frames = 0;
    let events = 0;
    let freed = 0;
    while (freed < needed) {
      const frame = this.shift();
      if (!frame) break;
      if (!this.settle(frame)) continue;
      freed += frame.bytes.length;
      frames++;
      events += frame.events;
    }
    return { frames, events };
  }

  /** Removes every pending frame (at close); returns them. */
  drainPending(): Frame[] {
    const out: Frame[] = [];
    for (let f = this.shift(); f; f = this.shift()) out.push(f);
    return out;
  }

  /** Every unsettled frame, oldest first. */
  all(): IterableIterator<Frame> {
    return this.unsettled.values();
  }
}
