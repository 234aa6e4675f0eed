import type { Frame } from "../batching/frame.js";

/** Key of an in-flight frame: its chunk id when acks are on, its sequence number otherwise. */
export type InFlightKey = string | number;

/** Limits of an in-flight window. */
export interface InFlightLimits {
  /** Stop taking frames when this many bytes are in flight (unacked, or not yet written). */
  maxInFlightBytes: number;
  /**
   * Stop taking frames when this many are in flight, so a reset re-sends a bounded number of frames (one
   * event each in Message mode with acks).
   */
  maxInFlightFrames: number;
}

/** A frame written on this connection, and when (on the connection's clock: the deadlines and the ack latency count from here). */
interface Written {
  readonly frame: Frame;
  readonly sentAt: number;
}

/**
 * Frames written on one connection and not yet settled (acked, or fully written when acks are off), by key,
 * in send order, with when each was written; and the slow-start window that caps how many may be in flight at once.
 */
export class InFlightWindow {
  readonly #frames = new Map<InFlightKey, Written>();
  readonly #limits: InFlightLimits;
  #bytes = 0;
  /** Frames allowed in flight now: starts at 1 after `slowStart()`, doubles with every ack. */
  #window: number;

  constructor(limits: InFlightLimits) {
    this.#limits = limits;
    this.#window = limits.maxInFlightFrames;
  }

  /** Allows a single frame in flight until acks grow the window again. */
  slowStart(): void {
    this.#window = 1;
  }

  /** Doubles the window after an ack, up to `maxInFlightFrames`. */
  grow(): void {
    if (this.#window < this.#limits.maxInFlightFrames) {
      this.#window = Math.min(this.#limits.maxInFlightFrames, this.#window * 2);
    }
  }

  /** True while both the byte and the frame limits leave room for one more frame. */
  get hasRoom(): boolean {
    return this.#bytes < this.#limits.maxInFlightBytes && this.#frames.size < this.#window;
  }

  /** Frames in flight. */
  get size(): number {
    return this.#frames.size;
  }

  /** The frame in flight under `key`, if any. */
  get(key: InFlightKey): Frame | undefined {
    return this.#frames.get(key)?.frame;
  }

  /** When the frame sent first among those still in flight was written (on the clock), if any is. */
  oldestSentAt(): number | undefined {
    return this.#frames.values().next().value?.sentAt;
  }

  /** Records a frame just written at `sentAt` (on the clock). */
  add(key: InFlightKey, frame: Frame, sentAt: number): void {
    this.#frames.set(key, { frame, sentAt });
    this.#bytes += frame.bytes.length;
  }

  /** Forgets a settled frame; returns when it was written (on the clock). */
  remove(key: InFlightKey, frame: Frame): number | undefined {
    const written = this.#frames.get(key);
    this.#frames.delete(key);
    this.#bytes -= frame.bytes.length;
    return written?.sentAt;
  }

  /** Empties the window, returning its frames in send order (to be re-sent elsewhere). */
  takeAll(): Frame[] {
    const frames = Array.from(this.#frames.values(), (w) => w.frame);
    this.#frames.clear();
    this.#bytes = 0;
    return frames;
  }
}
