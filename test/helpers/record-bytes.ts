import type { EncodeTarget } from "../../src/forward/protocol/record-encoder.js";
import { RecordEncoder } from "../../src/forward/protocol/record-encoder.js";

/** A growable buffer for RecordEncoder, as a batch would give it. */
function growableTarget(): EncodeTarget {
  return {
    buf: Buffer.alloc(64),
    grow(min, used) {
      const next = Buffer.alloc(min * 2);
      this.buf.copy(next, 0, 0, used);
      return ((this as { buf: Buffer }).buf = next);
    },
  };
}

/**
 * The msgpack bytes ForwardSink writes for `record` (with `floatFields` as float64), by `encoder` (a new one by
 * default: give one to see its key cache at work).
 */
export function recordBytes(
  record: object,
  floatFields?: ReadonlySet<string>,
  encoder = new RecordEncoder(),
): Buffer {
  const target = growableTarget();
  const end = encoder.encodeInto(record, target, 0, floatFields);
  return Buffer.from(target.buf.subarray(0, end));
}
