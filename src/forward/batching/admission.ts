import type { EventRecord } from "../../item.js";
import type { ResolvedOptions } from "../options.js";
import { readNow, type TimeParts } from "../protocol/event-time.js";
import type { FrameStore } from "../store/frame-store.js";
import type { Batcher } from "./batcher.js";
import type { Frame } from "./frame.js";

/**
 * What became of an event offered to the buffer: `accepted`; `slowDown` = accepted, but the buffer is past
 * its high-water mark; `held` = (block) did not fit and must be offered again once there is room; `dropped`.
 */
export type Admission = "accepted" | "slowDown" | "held" | "dropped";

/** What the admission reports back to the sink. */
export interface AdmissionHooks {
  /** `count` new events were refused for want of room. */
  overflowed(count: number): void;
  /** `count` accepted events (the oldest frames not yet sent) were dropped to make room. */
  evicted(count: number): void;
}

/**
 * Decides whether an event enters the buffer under the overflow policy (block, dropOldest, dropNewest) and
 * the buffer limit, and when the writer should slow down or may resume (`drain`).
 */
export class BufferAdmission {
  readonly #opts: Pick<ResolvedOptions, "overflow">;
  readonly #buffer: FrameStore;
  readonly #batcher: Batcher;
  readonly #hooks: AdmissionHooks;
  #needDrain = false;
  /** Set by `admit` when a block-policy event must wait: its encoded size. */
  #heldSize = 0;
  /** Buffered bytes when the last event was dropped for want of room; Infinity once the buffer shrank. */
  #fullAt = Infinity;
  /** The time of an event sent without one, read only once the event is to be encoded. */
  readonly #now: TimeParts = { seconds: 0, nanos: 0 };
  /** Gives an evicted frame (its buffer and its object) back to the batcher: dropOldest allocates nothing per frame. */
  readonly #recycle = (frame: Frame): void => this.#batcher.evicted(frame);

  constructor(
    opts: Pick<ResolvedOptions, "overflow">,
    buffer: FrameStore,
    batcher: Batcher,
    hooks: AdmissionHooks,
  ) {
    this.#opts = opts;
    this.#buffer = buffer;
    this.#batcher = batcher;
    this.#hooks = hooks;
  }

  /**
   * Buffered bytes past which `emit()` returns false and a `drain` is owed: half the store's limit (which a disk
   * store changes while its disk fails).
   */
  get highWater(): number {
    return Math.floor(this.#buffer.limitBytes / 2);
  }

  /**
   * Encodes the event into its tag's batch if there is room; `force` (block policy) never drops, it holds
   * the event instead (a lone event larger than the limit still goes). `time` undefined = now: an event
   * dropped before its encoding costs no clock reading.
   */
  admit(
    tag: string,
    time: TimeParts | undefined,
    record: EventRecord,
    force: boolean,
    floatFields: ReadonlySet<string> | undefined,
  ): Admission {
    const limit = this.#buffer.limitBytes;
    if (!force && this.#opts.overflow !== "dropOldest") {
      // A full buffer drops the event before paying for its encoding: full = at the limit, or as full as
      // when the last event found no room (dropOldest still encodes, to make room for the event).
      const bytes = this.#buffer.bytes;
      if (bytes >= limit || bytes >= this.#fullAt) return this.#dropNew();
      this.#fullAt = Infinity;
    }
    const t = time ?? readNow(this.#now);
    const size = this.#batcher.encode(tag, t.seconds, t.nanos, record, floatFields);
    if (this.#buffer.bytes + size > limit) {
      if (force && this.#buffer.bytes > 0) {
        // block: hold the item until it fits (a lone event larger than the limit still goes).
        this.#batcher.discard();
        this.#heldSize = size;
        return "held";
      }
      if (!force && !this.#makeRoom(size)) {
        this.#batcher.discard();
        this.#fullAt = this.#buffer.bytes;
        return this.#dropNew();
      }
    }
    this.#batcher.commit();
    if (this.#buffer.bytes >= this.highWater) {
      this.#needDrain = true;
      return "slowDown";
    }
    return "accepted";
  }

  /** The encoded size of the event last `held` (0 if none), once: the next call returns 0. */
  takeHeldSize(): number {
    const size = this.#heldSize;
    this.#heldSize = 0;
    return size;
  }

  /** True when the buffer holds its limit or more. */
  get atLimit(): boolean {
    return this.#buffer.bytes >= this.#buffer.limitBytes;
  }

  /** True when a held event of `size` bytes may be offered again: the buffer is empty, or it fits. */
  fits(size: number): boolean {
    const bytes = this.#buffer.bytes;
    const limit = this.#buffer.limitBytes;
    return bytes === 0 || (bytes < limit && bytes + size <= limit);
  }

  /** True (once) when a `drain` is owed and `bufferedBytes` is back under the high-water mark. */
  takeDrain(bufferedBytes: number): boolean {
    if (this.#needDrain && bufferedBytes < this.highWater) {
      this.#needDrain = false;
      return true;
    }
    return false;
  }

  #dropNew(): "dropped" {
    this.#hooks.overflowed(1);
    this.#needDrain = true;
    return "dropped";
  }

  /** dropOldest: frees room by dropping the oldest frames not yet sent. */
  #makeRoom(size: number): boolean {
    if (this.#opts.overflow !== "dropOldest") return false;
    const limit = this.#buffer.limitBytes;
    let dropped = this.#buffer.dropOldestPending(this.#buffer.bytes + size - limit, this.#recycle);
    if (this.#buffer.bytes + size > limit) {
      this.#batcher.sealOpen();
      const more = this.#buffer.dropOldestPending(this.#buffer.bytes + size - limit, this.#recycle);
      dropped = { frames: dropped.frames + more.frames, events: dropped.events + more.events };
    }
    if (dropped.events > 0) this.#hooks.evicted(dropped.events);
    return this.#buffer.bytes + size <= limit;
  }
}
