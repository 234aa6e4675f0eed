import type { EventTimeInput, EventTimeLike } from "../../item.js";
import { ForwardInvalidTimeError } from "../errors.js";

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

  /** Throws `FORWARD_INVALID_TIME` when either part is not an integer in range. */
  constructor(seconds: number, nanoseconds = 0) {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_UINT32) {
      throw new ForwardInvalidTimeError(
        `EventTime seconds must be an integer from 0 to ${MAX_UINT32}, got ${seconds}`,
      );
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
      throw new ForwardInvalidTimeError(
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

  /** Any time `send()` accepts (`Date`, epoch milliseconds, bigint nanoseconds, EventTime-like), checked the same way. */
  static from(input: EventTimeInput): EventTime {
    if (input instanceof EventTime) return input;
    const parts: TimeParts = { seconds: 0, nanos: 0 };
    readTime(input, parts);
    return new EventTime(parts.seconds, parts.nanos);
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
      throw new ForwardInvalidTimeError(`EventTime data must be 8 bytes, got ${data.length}`);
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
/** Epoch milliseconds below this (1973-03-03) are refused: such a number is almost always seconds. */
const MIN_MS = 1e11;
const MIN_NS = 100_000_000_000_000_000n;
const MAX_NS = BigInt(MAX_UINT32 + 1) * 1_000_000_000n;

/** Reads the current time (`Date.now()`, to the millisecond) into `out`; returns `out`. */
export function readNow(out: TimeParts): TimeParts {
  const ms = Date.now();
  const seconds = Math.floor(ms / 1000);
  out.seconds = seconds;
  out.nanos = (ms - seconds * 1000) * 1_000_000;
  return out;
}

/**
 * Reads any accepted time input (undefined = now) into `out` without allocating (bigint aside); throws
 * `FORWARD_INVALID_TIME` naming what was wrong and what to pass instead.
 */
export function readTime(time: EventTimeInput | undefined, out: TimeParts): void {
  let ms: number;
  if (time === undefined) {
    readNow(out);
    return;
  } else if (typeof time === "number") {
    ms = time;
    if (!(ms >= MIN_MS && ms < MAX_MS)) throw badMilliseconds(ms);
  } else if (time instanceof Date) {
    ms = time.getTime();
    if (!(ms >= 0 && ms < MAX_MS)) {
      throw new ForwardInvalidTimeError(`time must be a valid Date from 1970 to 2106, got ${String(time)}`);
    }
  } else if (typeof time === "bigint") {
    if (time < MIN_NS || time >= MAX_NS) throw badNanoseconds(time);
    const seconds = time / 1_000_000_000n;
    out.seconds = Number(seconds);
    out.nanos = Number(time - seconds * 1_000_000_000n);
    return;
  } else if (typeof time === "object" && time !== null) {
    const { seconds, nanoseconds } = time;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_UINT32) {
      throw new ForwardInvalidTimeError(
        `time.seconds must be an integer from 0 to ${MAX_UINT32}, got ${String(seconds)}`,
      );
    }
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999) {
      throw new ForwardInvalidTimeError(
        `time.nanoseconds must be an integer from 0 to 999999999, got ${String(nanoseconds)}`,
      );
    }
    out.seconds = seconds;
    out.nanos = nanoseconds;
    return;
  } else {
    throw new ForwardInvalidTimeError(
      `time must be a Date, epoch milliseconds (a number), bigint nanoseconds or an EventTime, got ${
        typeof time === "function"
          ? "a function (send() takes no callback: await sink.flush() instead)"
          : typeof time
      }`,
    );
  }
  const seconds = Math.floor(ms / 1000);
  out.seconds = seconds;
  out.nanos = fractionNanos(ms, seconds);
}

function badMilliseconds(ms: number): ForwardInvalidTimeError {
  if (ms >= 0 && ms < MIN_MS) {
    return new ForwardInvalidTimeError(
      `time ${ms} looks like seconds: multiply by 1000, or pass an EventTime (a number time is epoch milliseconds, ` +
        "as Date.now() gives, and must be from 1973 on)",
    );
  }
  return new ForwardInvalidTimeError(
    `time must be epoch milliseconds from 1973 to 2106 (as Date.now() gives), got ${ms}`,
  );
}

function badNanoseconds(ns: bigint): ForwardInvalidTimeError {
  if (ns >= 0n && ns < MIN_NS) {
    return new ForwardInvalidTimeError(
      `time ${ns}n looks like milliseconds or seconds, not nanoseconds: a bigint time is epoch nanoseconds ` +
        "(BigInt(Date.now()) * 1_000_000n), or pass a number of milliseconds",
    );
  }
  return new ForwardInvalidTimeError(`time must be epoch nanoseconds from 1973 to 2106, got ${ns}n`);
}
