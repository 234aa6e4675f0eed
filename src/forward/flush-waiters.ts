/** `flush()` calls waiting for the buffer to move past a frame sequence number; internal. */
export class FlushWaiters {
  private readonly waiters: { target: number; resolve: () => void }[] = [];

  /** Calls `resolve` once every frame with a sequence number up to `target` has left the buffer. */
  add(target: number, resolve: () => void): void {
    this.waiters.push({ target, resolve });
  }

  /** Resolves, in order, the waiters whose target is older than `oldestSeq` (the oldest frame still buffered). */
  releaseBefore(oldestSeq: number): void {
    while (this.waiters.length > 0 && this.waiters[0]!.target < oldestSeq) {
      this.waiters.shift()!.resolve();
    }
  }

  /** Resolves every waiter (at close, delivered or not). */
  releaseAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
