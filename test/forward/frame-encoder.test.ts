import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Batch } from "../../src/forward/batch.js";
import { encodeFrame, encodeOptions, writeTime } from "../../src/forward/encoder.js";
import { EventTime } from "../../src/forward/event-time.js";
import { newChunkId } from "../../src/forward/frame.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const str = (s: string) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);

// Built by hand from the spec: [EventTime(1700000000, 123456789), {"a": 1}]
const TIME_HEX = "d7 00 65 53 f1 00 07 5b cd 15";
const ENTRY = hex(`92 ${TIME_HEX} 81 a1 61 01`);

function timeBytes(seconds: number, nanos: number, eventTime: boolean): Buffer {
  const buf = Buffer.alloc(16);
  return buf.subarray(0, writeTime(buf, 0, seconds, nanos, eventTime));
}

test("an EventTime is fixext 8 of type 0: seconds then nanoseconds, big-endian uint32", () => {
  assert.deepEqual(timeBytes(1700000000, 123456789, true), hex(TIME_HEX));
  assert.deepEqual(timeBytes(0, 0, true), hex("d7 00 00000000 00000000"));
  assert.deepEqual(timeBytes(0xffffffff, 999999999, true), hex("d7 00 ffffffff 3b9ac9ff"));
});

test("integer-second times use the smallest msgpack unsigned integer", () => {
  assert.deepEqual(timeBytes(5, 0, false), hex("05"));
  assert.deepEqual(timeBytes(200, 0, false), hex("cc c8"));
  assert.deepEqual(timeBytes(1700000000, 999, false), hex("ce 6553f100"));
});

test("the option map carries size, chunk and compressed in that order, as str keys", () => {
  assert.deepEqual(encodeOptions({ size: 2 }), Buffer.concat([hex("81"), str("size"), hex("02")]));
  const chunk = "AAAAAAAAAAAAAAAAAAAAAA==";
  assert.deepEqual(
    encodeOptions({ size: 300, chunk, compressed: "gzip" }),
    Buffer.concat([
      hex("83"),
      str("size"),
      hex("cd 012c"),
      str("chunk"),
      str(chunk),
      hex("aa"),
      Buffer.from("compressed"),
      str("gzip"),
    ]),
  );
});

test("a PackedForward frame is [tag, bin entries, {size}]", () => {
  const entries = Buffer.concat([ENTRY, ENTRY]);
  const frame = encodeFrame("PackedForward", "app.x", entries, 2);
  const expected = Buffer.concat([
    hex("93"),
    str("app.x"),
    hex("c4"),
    Buffer.from([entries.length]),
    entries,
    hex("81"),
    str("size"),
    hex("02"),
  ]);
  assert.deepEqual(frame, expected);
});

test("bin entries switch to bin16 and bin32 headers as they grow", () => {
  const big = Buffer.alloc(70_000, 0xc0);
  const frame = encodeFrame("PackedForward", "t", big, 70_000);
  assert.deepEqual(frame.subarray(0, 8), Buffer.concat([hex("93"), str("t"), hex("c6 00011170")]));
  const mid = encodeFrame("PackedForward", "t", Buffer.alloc(300, 0xc0), 300);
  assert.deepEqual(mid.subarray(0, 6), Buffer.concat([hex("93"), str("t"), hex("c5 012c")]));
});

test("a Forward frame is [tag, [[time, record], ...], {size}]", () => {
  const frame = encodeFrame("Forward", "app.x", Buffer.concat([ENTRY, ENTRY]), 2);
  assert.deepEqual(
    frame,
    Buffer.concat([hex("93"), str("app.x"), hex("92"), ENTRY, ENTRY, hex("81"), str("size"), hex("02")]),
  );
});

test("a Message frame is [tag, time, record] and gains {chunk} when acks are on", () => {
  assert.deepEqual(
    encodeFrame("Message", "app.x", ENTRY, 1),
    Buffer.concat([hex("93"), str("app.x"), ENTRY.subarray(1)]),
  );
  const chunk = "q83vEjRWeJC6zN7vEjRWeA==";
  assert.deepEqual(
    encodeFrame("Message", "app.x", ENTRY, 1, chunk),
    Buffer.concat([hex("94"), str("app.x"), ENTRY.subarray(1), hex("81"), str("chunk"), str(chunk)]),
  );
});

test("a CompressedPackedForward frame carries the gzip of the entries and compressed: gzip", () => {
  const entries = Buffer.concat([ENTRY, ENTRY, ENTRY]);
  const frame = encodeFrame("CompressedPackedForward", "t", entries, 3);
  assert.deepEqual(frame.subarray(0, 3), Buffer.concat([hex("93"), str("t")]));
  assert.equal(frame[3], 0xc4);
  const len = frame[4]!;
  assert.deepEqual(gunzipSync(frame.subarray(5, 5 + len)), entries);
  assert.deepEqual(
    frame.subarray(5 + len),
    Buffer.concat([hex("82"), str("size"), hex("03"), hex("aa"), Buffer.from("compressed"), str("gzip")]),
  );
});

test("a batch builds the same bytes as the frame encoder, with a chunk when asked", () => {
  const record = hex("81 a1 61 01");
  for (const mode of ["PackedForward", "Forward", "CompressedPackedForward"] as const) {
    const batch = new Batch("app.x", mode, true, 0);
    batch.append(1700000000, 123456789, record, 0, record.length);
    batch.append(1700000000, 123456789, record, 0, record.length);
    const [sealed] = batch.seal(() => "CHUNK");
    const expected = encodeFrame(mode, "app.x", Buffer.concat([ENTRY, ENTRY]), 2, "CHUNK");
    if (mode === "CompressedPackedForward") {
      assert.equal(sealed!.bytes.length, expected.length);
    } else {
      assert.deepEqual(sealed!.bytes, expected);
    }
    assert.equal(sealed!.events, 2);
    assert.equal(batch.count, 0);
  }
});

test("a Message-mode batch seals into one frame per event, each with its own chunk", () => {
  const record = hex("81 a1 61 01");
  const batch = new Batch("app.x", "Message", true, 0);
  batch.append(1700000000, 123456789, record, 0, record.length);
  batch.append(1700000000, 123456789, record, 0, record.length);
  let i = 0;
  const frames = batch.seal(() => `c${++i}`);
  assert.deepEqual(
    frames.map((f) => f.bytes),
    [encodeFrame("Message", "app.x", ENTRY, 1, "c1"), encodeFrame("Message", "app.x", ENTRY, 1, "c2")],
  );
});

test("a batch grows its buffer as entries arrive and starts over after sealing", () => {
  const record = Buffer.alloc(5000, 0xc0);
  const batch = new Batch("t", "PackedForward", false, 0);
  for (let i = 0; i < 10; i++) batch.append(i, 0, record, 0, record.length);
  const [sealed] = batch.seal(() => undefined);
  assert.equal(sealed!.events, 10);
  assert.equal(batch.bytes, 0);
  batch.append(1, 0, record, 0, record.length);
  assert.equal(batch.count, 1);
});

test("chunk ids are base64 of 16 random bytes and do not repeat", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = newChunkId();
    assert.match(id, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Buffer.from(id, "base64").length, 16);
    ids.add(id);
  }
  assert.equal(ids.size, 1000);
});

test("EventTime converts Dates and fractional epoch milliseconds to the nanosecond", () => {
  assert.deepEqual(
    { ...EventTime.fromMilliseconds(1700000000123.456) },
    { seconds: 1700000000, nanoseconds: 123456000 },
  );
  assert.deepEqual({ ...EventTime.fromDate(new Date(1500)) }, { seconds: 1, nanoseconds: 500000000 });
  assert.equal(EventTime.from(new EventTime(3, 4)).nanoseconds, 4);
  assert.deepEqual(
    EventTime.fromBuffer(new EventTime(1700000000, 123456789).toBuffer()),
    new EventTime(1700000000, 123456789),
  );
  assert.equal(new EventTime(0, 5).toString(), "1970-01-01T00:00:00.000000005Z");
  assert.throws(() => new EventTime(-1), { code: "FORWARD_INVALID_TIME" });
  assert.throws(() => new EventTime(1, 1e9), { code: "FORWARD_INVALID_TIME" });
  const now = EventTime.now();
  assert.ok(Math.abs(now.toMilliseconds() - Date.now()) < 5000);
});

test("tags longer than 31 bytes use str8 and str16 headers, counted in UTF-8 bytes", () => {
  const entry = ENTRY;
  const tag40 = "a".repeat(40);
  const frame40 = encodeFrame("PackedForward", tag40, entry, 1);
  assert.deepEqual(frame40.subarray(0, 3), hex("93 d9 28"));
  assert.equal(frame40.subarray(3, 43).toString(), tag40);
  const tag300 = "é".repeat(150);
  const frame300 = encodeFrame("Forward", tag300, entry, 1);
  assert.deepEqual(frame300.subarray(0, 4), hex("93 da 012c"));
  assert.equal(frame300.subarray(4, 304).toString(), tag300);
  const batch = new Batch(tag300, "PackedForward", true, 0);
  const record = hex("81 a1 61 01");
  batch.append(1700000000, 123456789, record, 0, record.length);
  assert.deepEqual(batch.seal(() => undefined)[0]!.bytes, encodeFrame("PackedForward", tag300, entry, 1));
});
