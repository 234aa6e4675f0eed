import { test } from "node:test";
import assert from "node:assert/strict";
import { recordBytes } from "../helpers/record-bytes.js";
import { EventReader, EventWriter } from "../../src/loggers/winston-wire.js";

/** What ForwardSink writes for `record`: the record encoder's bytes. */
/** The bytes a ForwardSink writes for `record`. */
const sinkBytes = (record: object): Buffer => recordBytes(record);

class Access {
  constructor(
    readonly path: string,
    readonly status: number,
  ) {}
}

/** Values JSON would change or refuse, next to the JSON-like ones; `at` gives each Date (or its ISO string). */
function typedRecord(at: (ms: number) => unknown = (ms) => new Date(ms)): Record<string, unknown> {
  return {
    message: "signed in é ✓",
    level: "info",
    buf: Buffer.from([0, 1, 0xc1, 0xff, 0x80]),
    bytes: new Uint8Array([7, 8]),
    small: 5n,
    huge: 2n ** 63n + 1n,
    negative: -(2n ** 62n),
    when: at(1_700_000_000_123),
    nested: { list: [1, "a", Buffer.from("bin"), { deep: { n: 3n, at: at(0) } }], empty: {} },
    map: new Map<string, unknown>([["k", 1]]),
    access: new Access("/x", 200),
    wholeFloat: 2 ** 40,
    negativeLarge: -(2 ** 40),
    float: 1.5,
    nan: Number.NaN,
    nothing: undefined,
    nil: null,
    flag: false,
    fn: () => 1,
  };
}

/** Every event and close mark `text` carries, read in chunks cut at `cuts`. */
function readAll(
  text: string,
  cuts: number[],
): (string | { record: Record<string, unknown>; timeMs: number })[] {
  const reader = new EventReader();
  const seen: (string | { record: Record<string, unknown>; timeMs: number })[] = [];
  const handler = {
    event: (record: Record<string, unknown>, timeMs: number) => seen.push({ record, timeMs }),
    close: () => seen.push("close"),
  };
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    reader.read(text.slice(from, cut), handler);
    from = cut;
  }
  return seen;
}

test("a record that crosses to the worker is encoded by its sink to the bytes a sink in the main thread writes (its Dates as ISO strings)", () => {
  const writer = new EventWriter();
  writer.add(typedRecord(), 1_700_000_000_456.5);
  const [event] = readAll(writer.take(), []);
  assert.ok(typeof event === "object");
  assert.equal(event.timeMs, 1_700_000_000_456.5);
  const iso = (ms: number): string => new Date(ms).toISOString();
  assert.deepEqual(sinkBytes(event.record).toString("hex"), sinkBytes(typedRecord()).toString("hex"));
  assert.deepEqual(sinkBytes(event.record).toString("hex"), sinkBytes(typedRecord(iso)).toString("hex"));
  const r = event.record;
  assert.ok(Buffer.isBuffer(r.buf));
  assert.deepEqual([...(r.buf as Buffer)], [0, 1, 0xc1, 0xff, 0x80]);
  assert.equal(r.small, 5n);
  assert.equal(r.huge, 2n ** 63n + 1n);
  assert.deepEqual(r.when, new Date("2023-11-14T22:13:20.123Z"));
  assert.equal(r.wholeFloat, 2 ** 40);
  assert.equal(typeof r.wholeFloat, "number");
});

test("the worker reads events and the close mark in order, from text cut anywhere", () => {
  const writer = new EventWriter();
  for (let i = 0; i < 3; i++) writer.add({ id: i, text: "ünïcödé ✓", buf: Buffer.from([0xff, i]) }, 1000 + i);
  writer.addClose();
  const text = writer.take();
  const expected = readAll(text, []);
  assert.equal(expected.length, 4);
  assert.equal(expected[3], "close");
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(readAll(text, [cut]), expected, `cut at ${cut}`);
  }
  assert.deepEqual(
    readAll(
      text,
      Array.from({ length: text.length - 1 }, (_, i) => i + 1),
    ),
    expected,
    "one character at a time",
  );
});

test("thread-stream's UTF-8 leg gives every byte back: the text survives encoding to UTF-8 and decoding", () => {
  const writer = new EventWriter();
  writer.add({ all: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) }, 1);
  const text = writer.take();
  const [event] = readAll(Buffer.from(text, "utf8").toString("utf8"), []);
  assert.ok(typeof event === "object");
  assert.deepEqual(
    [...(event.record.all as Buffer)],
    Array.from({ length: 256 }, (_, i) => i),
  );
});

test("a record msgpack cannot encode (a cycle) is refused whole, and the batch goes on", () => {
  const writer = new EventWriter();
  const cyclic: Record<string, unknown> = { id: 1 };
  cyclic.self = { back: new Access("/", 1), cyclic };
  assert.throws(() => writer.add(cyclic, 1));
  assert.equal(writer.length, 0);
  writer.add({ id: 2 }, 2);
  assert.deepEqual(readAll(writer.take(), []), [{ record: { id: 2 }, timeMs: 2 }]);
});

test("a batch larger than the writer's first buffer grows it", () => {
  const writer = new EventWriter();
  const big = "x".repeat(100_000);
  writer.add({ big }, 1);
  writer.add({ big, n: 2 }, 2);
  assert.ok(writer.length > 200_000);
  const events = readAll(writer.take(), [70_000]);
  assert.deepEqual(events, [
    { record: { big }, timeMs: 1 },
    { record: { big, n: 2 }, timeMs: 2 },
  ]);
  assert.equal(writer.length, 0);
});

test("a Date crosses as a Date wherever it is (an invalid one too), and the sink writes the string JSON writes for it", () => {
  const writer = new EventWriter();
  const record = {
    at: new Date(0),
    bad: new Date(Number.NaN),
    list: [new Date(1000), -1, { deeper: [new Date(2000)] }],
    map: new Map([["k", new Date(3000)]]),
    bytes: Buffer.from([0xff, 0xd6]),
  };
  writer.add(record, 1);
  const [event] = readAll(writer.take(), []);
  assert.ok(typeof event === "object");
  const { bad, ...rest } = event.record;
  assert.ok(bad instanceof Date && Number.isNaN(bad.getTime()), "the invalid Date is still one");
  const { bad: _sent, ...sent } = record;
  assert.deepEqual(rest, { ...sent, map: { k: new Date(3000) } });
  assert.deepEqual(
    sinkBytes(event.record),
    sinkBytes({
      at: "1970-01-01T00:00:00.000Z",
      bad: null,
      list: ["1970-01-01T00:00:01.000Z", -1, { deeper: ["1970-01-01T00:00:02.000Z"] }],
      map: { k: "1970-01-01T00:00:03.000Z" },
      bytes: Buffer.from([0xff, 0xd6]),
    }),
  );
});
