import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Batch } from "../../src/forward/batching/batch.js";
import { Batcher } from "../../src/forward/batching/batcher.js";
import { BufferPool } from "../../src/forward/batching/buffer-pool.js";
import { MemoryFrameStore } from "../../src/forward/store/memory-store.js";
import { newChunkId } from "../../src/forward/batching/frame.js";
import { EventTime } from "../../src/forward/protocol/event-time.js";
import { writeTime, type ForwardMode } from "../../src/forward/protocol/frame-encoder.js";
import { RecordEncoder } from "../../src/forward/protocol/record-encoder.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const str = (s: string) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);

// Built by hand from the spec: [EventTime(1700000000, 123456789), {"a": 1}]
const TIME_HEX = "d7 00 65 53 f1 00 07 5b cd 15";
const ENTRY = hex(`92 ${TIME_HEX} 81 a1 61 01`);
const SECONDS = 1700000000;
const NANOS = 123456789;

/** Frames sealed from `records` the way the sink builds them: Batch + RecordEncoder, in place. */
function seal(
  mode: ForwardMode,
  tag: string,
  records: object[],
  chunkId: () => string | undefined = () => undefined,
  eventTime = true,
): Buffer[] {
  const batch = new Batch(tag, mode, eventTime, 0, new BufferPool(), 1024 * 1024);
  const encoder = new RecordEncoder();
  for (const record of records) {
    const at = batch.begin(SECONDS, NANOS);
    batch.hold(encoder.encodeInto(record, batch, at));
    batch.commit();
  }
  return batch.seal(chunkId).map((f) => Buffer.from(f.bytes));
}

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

test("a PackedForward frame is [tag, bin entries, {size}]", () => {
  const entries = Buffer.concat([ENTRY, ENTRY]);
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
  assert.deepEqual(seal("PackedForward", "app.x", [{ a: 1 }, { a: 1 }]), [expected]);
});

test("bin entries switch to bin16 and bin32 headers as they grow", () => {
  const [big] = seal("PackedForward", "t", [{ p: "x".repeat(70_000) }]);
  const bigEntry = 1 + 10 + 1 + 2 + 5 + 70_000;
  assert.deepEqual(
    big!.subarray(0, 8),
    Buffer.concat([hex("93"), str("t"), hex("c6"), hex(bigEntry.toString(16).padStart(8, "0"))]),
  );
  const [mid] = seal("PackedForward", "t", [{ p: "x".repeat(280) }]);
  const midEntry = 1 + 10 + 1 + 2 + 3 + 280;
  assert.deepEqual(
    mid!.subarray(0, 6),
    Buffer.concat([hex("93"), str("t"), hex("c5"), hex(midEntry.toString(16).padStart(4, "0"))]),
  );
});

test("a Forward frame is [tag, [[time, record], ...], {size}]", () => {
  assert.deepEqual(seal("Forward", "app.x", [{ a: 1 }, { a: 1 }]), [
    Buffer.concat([hex("93"), str("app.x"), hex("92"), ENTRY, ENTRY, hex("81"), str("size"), hex("02")]),
  ]);
});

test("a Message-mode batch seals into back-to-back [tag, time, record] frames in one buffer without acks", () => {
  const message = Buffer.concat([hex("93"), str("app.x"), ENTRY.subarray(1)]);
  assert.deepEqual(seal("Message", "app.x", [{ a: 1 }]), [message]);
  assert.deepEqual(seal("Message", "app.x", [{ a: 1 }, { a: 1 }, { a: 1 }]), [
    Buffer.concat([message, message, message]),
  ]);
});

test("a Message-mode batch with acks seals into one [tag, time, record, {chunk}] frame per event", () => {
  const chunks = ["q83vEjRWeJC6zN7vEjRWeA==", "AAAAAAAAAAAAAAAAAAAAAA=="];
  let i = 0;
  assert.deepEqual(
    seal("Message", "app.x", [{ a: 1 }, { a: 1 }], () => chunks[i++]),
    chunks.map((chunk) =>
      Buffer.concat([hex("94"), str("app.x"), ENTRY.subarray(1), hex("81"), str("chunk"), str(chunk)]),
    ),
  );
});

test("a Message-mode batch with acks seals only its own events after a larger batch of the same tag", () => {
  const batch = new Batch("app.x", "Message", true, 0, new BufferPool(), 1024 * 1024);
  const encoder = new RecordEncoder();
  let chunk = 0;
  const chunkId = (): string => `chunk-${chunk++}`;
  const sealEvents = (records: object[]): Buffer[] => {
    for (const record of records) {
      const at = batch.begin(SECONDS, NANOS);
      batch.hold(encoder.encodeInto(record, batch, at));
      batch.commit();
    }
    return batch.seal(chunkId).map((f) => Buffer.from(f.bytes));
  };
  const frame = (record: Buffer, id: string): Buffer =>
    Buffer.concat([
      hex("94"),
      str("app.x"),
      timeBytes(SECONDS, NANOS, true),
      record,
      hex("81"),
      str("chunk"),
      str(id),
    ]);
  assert.equal(sealEvents([{ a: 1 }, { a: 2 }, { a: 3 }]).length, 3);
  assert.deepEqual(sealEvents([{ b: 1 }, { b: 2 }]), [
    frame(hex("81 a1 62 01"), "chunk-3"),
    frame(hex("81 a1 62 02"), "chunk-4"),
  ]);
});

test("a CompressedPackedForward frame carries the gzip of the entries, then size, chunk and compressed: gzip", async () => {
  const frames = new MemoryFrameStore(64 * 1024 * 1024);
  let ready = () => {};
  const gzipped = new Promise<void>((resolve) => (ready = resolve));
  const batcher = new Batcher(
    {
      mode: "CompressedPackedForward",
      eventTime: true,
      requireAck: true,
      batch: { maxEvents: 3, maxBytes: 1 << 20, maxDelayMs: 60_000 },
    },
    frames,
    () => ready(),
  );
  for (let i = 0; i < 3; i++) {
    batcher.encode("t", SECONDS, NANOS, { a: 1 });
    batcher.commit();
  }
  const frame = frames.peek()!;
  assert.equal(frame.compressing, true, "sealing does not gzip on the caller's stack");
  assert.deepEqual(frame.bytes, Buffer.concat([ENTRY, ENTRY, ENTRY]), "the raw entries count until gzipped");
  assert.equal(frames.bytes, ENTRY.length * 3);
  await gzipped;
  assert.equal(frame.compressing, false);
  assert.equal(frames.bytes, frame.bytes.length, "the buffer now counts the compressed frame");
  const bytes = frame.bytes;
  assert.deepEqual(bytes.subarray(0, 3), Buffer.concat([hex("93"), str("t")]));
  assert.equal(bytes[3], 0xc4);
  const len = bytes[4]!;
  assert.deepEqual(gunzipSync(bytes.subarray(5, 5 + len)), Buffer.concat([ENTRY, ENTRY, ENTRY]));
  assert.deepEqual(
    bytes.subarray(5 + len),
    Buffer.concat([
      hex("83"),
      str("size"),
      hex("03"),
      str("chunk"),
      Buffer.from([0xa0 | frame.chunk!.length]),
      Buffer.from(frame.chunk!),
      hex("aa"),
      Buffer.from("compressed"),
      str("gzip"),
    ]),
  );
  assert.match(frame.chunk!, /^[A-Za-z0-9+/]{22}==$/);
});

/** The gzip member of the CompressedPackedForward frame a Batcher makes of `events` entries, at `level`. */
async function gzipMember(level: number | undefined, events: number): Promise<Buffer> {
  const frames = new MemoryFrameStore(64 * 1024 * 1024);
  let ready = () => {};
  const gzipped = new Promise<void>((resolve) => (ready = resolve));
  const batcher = new Batcher(
    {
      mode: "CompressedPackedForward",
      compressionLevel: level,
      eventTime: true,
      requireAck: false,
      batch: { maxEvents: events, maxBytes: 1 << 20, maxDelayMs: 60_000 },
    },
    frames,
    () => ready(),
  );
  for (let i = 0; i < events; i++) {
    batcher.encode("t", SECONDS, NANOS, { a: 1, msg: `event ${i % 7}` });
    batcher.commit();
  }
  await gzipped;
  const bytes = frames.peek()!.bytes;
  // [tag, bin member, options]: 93, "t" (2 bytes), then bin8 (c4 + length) or bin16 (c5 + 16-bit length).
  if (bytes[3] === 0xc4) return bytes.subarray(5, 5 + bytes[4]!);
  assert.equal(bytes[3], 0xc5);
  return bytes.subarray(6, 6 + bytes.readUInt16BE(4));
}

test("CompressedPackedForward gzips at level 1 by default and at compressionLevel when given; every level decodes the same", async () => {
  const fastest = await gzipMember(undefined, 500);
  const smallest = await gzipMember(9, 500);
  // The gzip header's XFL byte says which level made the member: 4 = fastest (level 1), 2 = best (level 9).
  assert.equal(fastest[8], 4);
  assert.equal(smallest[8], 2);
  assert.deepEqual(gunzipSync(fastest), gunzipSync(smallest));
});

test("a PackedForward frame asks for an ack with {size, chunk}", () => {
  const [frame] = seal("PackedForward", "app.x", [{ a: 1 }], () => "CHUNK");
  assert.deepEqual(
    frame!.subarray(frame!.length - 19),
    Buffer.concat([hex("82"), str("size"), hex("01"), str("chunk"), str("CHUNK")]),
  );
});

test("a batch grows its buffer as entries arrive and starts over after sealing", () => {
  const batch = new Batch("t", "PackedForward", false, 0, new BufferPool(), 1024 * 1024);
  const encoder = new RecordEncoder();
  const add = (record: object) => {
    batch.hold(encoder.encodeInto(record, batch, batch.begin(1, 0)));
    batch.commit();
  };
  for (let i = 0; i < 10; i++) add({ pad: "y".repeat(5000) });
  const [sealed] = batch.seal(() => undefined);
  assert.equal(sealed!.events, 10);
  assert.equal(batch.bytes, 0);
  add({ a: 1 });
  assert.equal(batch.count, 1);
});

test("an entry held while its batch is sealed moves, intact, to the front of the next batch", () => {
  for (const mode of ["PackedForward", "Message", "CompressedPackedForward"] as const) {
    const batch = new Batch("t", mode, true, 0, new BufferPool(), 1024 * 1024);
    const encoder = new RecordEncoder();
    batch.hold(encoder.encodeInto({ a: 1 }, batch, batch.begin(SECONDS, NANOS)));
    batch.commit();
    const size = batch.hold(
      encoder.encodeInto({ held: "z".repeat(100) }, batch, batch.begin(SECONDS, NANOS)),
    );
    const [first] = batch.seal(() => undefined);
    assert.equal(first!.events, 1, mode);
    assert.equal(batch.heldSize, size, mode);
    batch.commit();
    const [second] = seal(mode, "t", [{ held: "z".repeat(100) }]);
    assert.deepEqual(Buffer.from(batch.seal(() => undefined)[0]!.bytes), second, mode);
  }
});

test("with acks, a Message-mode entry held while its batch is sealed moves, intact, to the next batch", () => {
  const batch = new Batch("t", "Message", true, 0, new BufferPool(), 1024 * 1024);
  const encoder = new RecordEncoder();
  for (const record of [{ a: 1 }, { b: 2 }]) {
    batch.hold(encoder.encodeInto(record, batch, batch.begin(SECONDS, NANOS)));
    batch.commit();
  }
  const size = batch.hold(encoder.encodeInto({ held: "z".repeat(100) }, batch, batch.begin(SECONDS, NANOS)));
  const chunks = ["AAAAAAAAAAAAAAAAAAAAAA==", "BBBBBBBBBBBBBBBBBBBBBB==", "CCCCCCCCCCCCCCCCCCCCCC=="];
  let i = 0;
  const next = () => chunks[i++];
  const first = batch.seal(next);
  assert.deepEqual(
    first.map((f) => [Buffer.from(f.bytes), f.events, f.chunk]),
    [
      [seal("Message", "t", [{ a: 1 }], () => chunks[0])[0], 1, chunks[0]],
      [seal("Message", "t", [{ b: 2 }], () => chunks[1])[0], 1, chunks[1]],
    ],
  );
  assert.equal(batch.heldSize, size);
  batch.commit();
  const [second] = batch.seal(next);
  assert.deepEqual(
    Buffer.from(second!.bytes),
    seal("Message", "t", [{ held: "z".repeat(100) }], () => chunks[2])[0],
  );
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
  const tag40 = "a".repeat(40);
  const [frame40] = seal("PackedForward", tag40, [{ a: 1 }]);
  assert.deepEqual(frame40!.subarray(0, 3), hex("93 d9 28"));
  assert.equal(frame40!.subarray(3, 43).toString(), tag40);
  const tag300 = "é".repeat(150);
  const [frame300] = seal("Forward", tag300, [{ a: 1 }]);
  assert.deepEqual(frame300!.subarray(0, 4), hex("93 da 012c"));
  assert.equal(frame300!.subarray(4, 304).toString(), tag300);
  assert.deepEqual(
    frame300!.subarray(304),
    Buffer.concat([hex("91"), ENTRY, hex("81"), str("size"), hex("01")]),
  );
});
