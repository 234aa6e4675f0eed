/**
 * A small free list of batch buffers. A PackedForward/Forward frame is a view of the buffer its batch was
 * encoded into; once the frame is settled (acknowledged, or written when acks are off) that buffer goes back
 * here, so the next batch encodes into memory that is already mapped and warm instead of a fresh 1-2 MB
 * allocation (which costs page faults and cache misses for every batch while frames wait for their acks).
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #maxBuffers: number;

  /** Keeps at most `maxBuffers` buffers. */
  constructor(maxBuffers = 4) {
    this.#maxBuffers = maxBuffers;
  }

  /** A buffer of at least `size` bytes: a pooled one when one is large enough, else a new one. */
  take(size: number): Buffer {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      const buf = free[i]!;
      if (buf.length >= size) {
        free[i] = free[free.length - 1]!;
        free.pop();
        return buf;
      }
    }
    return Buffer.allocUnsafe(size);
  }

  /**
   * Returns a buffer nobody reads or writes any more. Only whole allocations are kept (never a slice of
   * Node's shared pool); the rest is left to the garbage collector.
   */
  give(buf: Buffer): void {
    if (this.#free.length >= this.#maxBuffers) return;
    if (buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.length) return;
    this.#free.push(buf);
  }
}
