import type { FrameBuffer } from "./buffer.js";
import type { ServerPool } from "./server-pool.js";

/** The sink's counter the dispatcher adds to: events written again. */
export interface DispatchCounters {
  retried: number;
}

/** Moves pending frames from the buffer to the server pool while some connection can take them; internal. */
export class FrameDispatcher {
  private dispatching = false;

  constructor(
    private readonly buffer: FrameBuffer,
    private readonly pool: ServerPool,
    private readonly counters: DispatchCounters,
  ) {}

  /**
   * Hands pending frames to the servers in order, skipping frames already settled; asks the pool for a
   * connection while some remain. Re-entrant calls (from pool events during a send) are ignored.
   */
  dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let frame = this.buffer.peek(); frame !== undefined; frame = this.buffer.peek()) {
        if (frame.settled) {
          this.buffer.shift();
          continue;
        }
        const first = frame.attempts === 0;
        if (!this.pool.send(frame)) break;
        this.buffer.shift();
        if (!first) this.counters.retried += frame.events;
      }
      if (this.buffer.pendingCount > 0) this.pool.demand();
    } finally {
      this.dispatching = false;
    }
  }
}
