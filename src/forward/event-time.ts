import type { EventTimeInput, EventTimeLike } from "../item.js";
import { ForwardInvalidRecordError } from "./errors.js";

const MAX_UINT32 = 0xffffffff;

/**
 * Fluentd's EventTime: seconds and nanoseconds since the Unix epoch, sent as msgpack ext type 0
 * (`d7 00` + seconds as big-endian uint32 + nanoseconds as big-endian uint32).
 */
export class EventTime implements EventTimeLike {
  /** Whole seconds since 1970-01-01T00:00:00Z (0 to 2^32 - 1). */
  readonly seconds: number;
  /** Nanoseconds within the second (0 to 999 999 999). */
  readonly nanoseconds: number;

  /** Throws `FORWARD_INVALID_RECORD` when either part is not an integer in range. */
  constructor(seconds: number, nanoseconds = 0) {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_UINT32) {
      throw new ForwardInvalidRecordError(
        `EventTime seconds must be an integer from 0 to ${MAX_UINT32}, got ${seconds}`,
      );
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
      throw new ForwardInvalidRecordError(
        `EventTime nanoseconds must be an integer from 0 to 999999999, got ${nanoseconds}`,
      );
    }
    this.seconds = seconds;
    this.nanoseconds = nanoseconds;
  }

  /** The current time (millisecond precision, like `Date.now()`). */
  static now(): EventTime {
    return EventTime.fromMilliseconds(Date.now());
  }

  /** The time of a `Date`. */
  static fromDate(date: Date): EventTime {
    return EventTime.fromMilliseconds(date.getTime());
  }

  /** Epoch milliseconds; a fractional part is kept down to the microsecond (the precision of a double). */
  static fromMilliseconds(ms: number): EventTime {
    const seconds = Math.floor(ms / 1000);
    return new EventTime(seconds, fractionNanos(ms, seconds));
  }

  /** Any accepted time input (`Date`, epoch milliseconds, or an EventTime-like object). */
  static from(input: EventTimeInput): EventTime {
    if (input instanceof EventTime) return input;
    if (typeof input === "number") return EventTime.fromMilliseconds(input);
    if (input instanceof Date) return EventTime.fromDate(input);
    return new EventTime(input.seconds, input.nanoseconds);
  }

  /** Epoch milliseconds (nanoseconds beyond the millisecond are kept as a fraction). */
  toMilliseconds(): number {
    return this.seconds * 1000 + this.nanoseconds / 1e6;
  }

  /** The 8 data bytes of the msgpack ext (type 0). */
  toBuffer(): Buffer {
    const b = Buffer.allocUnsafe(8);
    b.writeUInt32BE(this.seconds, 0);
    b.writeUInt32BE(this.nanoseconds, 4);
    return b;
  }

  /** Reads the 8 data bytes of a msgpack ext type 0. */
  static fromBuffer(data: Uint8Array): EventTime {
    if (data.length !== 8)
      throw new ForwardInvalidRecordError(`EventTime data must be 8 bytes, got ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, 8);
    return new EventTime(view.getUint32(0), view.getUint32(4));
  }

  /** ISO-8601 rendering with nanoseconds, e.g. `2024-05-01T12:00:00.123456789Z`. */
  toString(): string {
    const iso = new Date(this.seconds * 1000).toISOString();
    return `${iso.slice(0, 19)}.${String(this.nanoseconds).padStart(9, "0")}Z`;
  }
}

/**
 * Nanoseconds of the fractional second of `ms`, given `seconds = floor(ms / 1000)`. Rounded to the microsecond:
 * a double holding today's epoch milliseconds has no precision below ~0.25 µs (use EventTime for nanoseconds).
 */
export function fractionNanos(ms: number, seconds: number): number {
  const nanos = Math.round((ms - seconds * 1000) * 1000) * 1000;
  return nanos > 999_999_999 ? 999_999_999 : nanos < 0 ? 0 : nanos;
}

/** Seconds and nanoseconds of an event, written by `readTime` into a reused object. */
export interface TimeParts {
  seconds: number;
  nanos: number;
}

const MAX_MS = (MAX_UINT32 + 1) * 1000;

/**
 * Reads any accepted time input (undefined = now) into `out` without allocating; throws
 * `FORWARD_INVALID_RECORD` when it is out of the EventTime range (1970 to 2106) or of the wrong type.
 */
export function readTime(time: EventTimeInput | undefined, out: TimeParts): void {
  let ms: number;
  if (time === undefined) {
    ms = Date.now();
    const seconds = Math.floor(ms / 1000);
    out.seconds = seconds;
    out.nanos = (ms - seconds * 1000) * 1_000_000;
    return;
  } else if (typeof time === "number") {
    ms = time;
    if (!(ms >= 0 && ms < MAX_MS)) {
      throw new ForwardInvalidRecordError(`time must be epoch milliseconds from 0 to 2^32 s, got ${ms}`);
    }
  } else if (time instanceof Date) {
    ms = time.getTime();
    if (!(ms >= 0 && ms < MAX_MS)) {
      throw new ForwardInvalidRecordError(`time must be a valid Date from 1970 to 2106, got ${String(time)}`);
    }
  } else if (typeof time === "object" && time !== null) {
    const { seconds, nanoseconds } = time;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_UINT32) {
      throw new ForwardInvalidRecordError(
        `time.seconds must be an integer from 0 to ${MAX_UINT32}, got ${seconds}`,
      );
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
      throw new ForwardInvalidRecordError(
        `time.nanoseconds must be an integer from 0 to 999999999, got ${nanoseconds}`,
      );
    }
    out.seconds = seconds;
    out.nanos = nanoseconds;
    return;
  } else {
    throw new ForwardInvalidRecordError(
      `time must be a Date, epoch milliseconds or an EventTime, got ${typeof time}`,
    );
  }
  const seconds = Math.floor(ms / 1000);
  out.seconds = seconds;
  out.nanos = fractionNanos(ms, seconds);
}
