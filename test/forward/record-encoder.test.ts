import { test } from "node:test";
import assert from "node:assert/strict";
import { Packr, Unpackr } from "msgpackr";
import { Batch } from "../../src/forward/batching/batch.js";
import { BufferPool } from "../../src/forward/batching/buffer-pool.js";
import { MAX_CACHED_KEYS, MISSES_BEFORE_RESET } from "../../src/forward/protocol/key-cache.js";
import { RecordEncoder } from "../../src/forward/protocol/record-encoder.js";

const msgpackr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

/** Encodes `value` as the sink does, in place into a batch's buffer; returns a copy of the record's bytes. */
function encodeWith(encoder: RecordEncoder, value: object, floatFields?: ReadonlySet<string>): Buffer {
  const batch = new Batch("t", "PackedForward", false, 0, new BufferPool(), 1024 * 1024);
  const at = batch.begin(1, 0);
  const end = encoder.encodeInto(value, batch, at, floatFields);
  return Buffer.from(batch.buf.subarray(at, end));
}

function encode(value: object): Buffer {
  return encodeWith(new RecordEncoder(), value);
}

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  "",
  "a",
  "x".repeat(31),
  "x".repeat(32),
  "y".repeat(255),
  "y".repeat(256),
  "héllo",
  "☃".repeat(11),
  "🚀 rocket",
  "z".repeat(70_000),
];
const INTS = [
  0,
  1,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32768,
  -32769,
  -(2 ** 31),
];

function randomValue(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 4 || r < 0.35) {
    const k = Math.floor(next() * 6);
    if (k === 0) return STRINGS[Math.floor(next() * (STRINGS.length - 1))];
    if (k === 1) return INTS[Math.floor(next() * INTS.length)];
    if (k === 2) return Math.round(next() * 1e6) / 1000;
    if (k === 3) return next() < 0.5;
    if (k === 4) return null;
    return `k${Math.floor(next() * 1000)}`;
  }
  if (r < 0.65) return Array.from({ length: Math.floor(next() * 20) }, () => randomValue(next, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(next() * 20);
  for (let i = 0; i < n; i++) o[`key${i}_${Math.floor(next() * 50)}`] = randomValue(next, depth + 1);
  return o;
}

test("JSON-like records encode to exactly msgpackr's bytes (variableMapSize, smallest forms)", () => {
  const next = rng(42);
  for (let i = 0; i < 500; i++) {
    const record = { r: randomValue(next, 0), s: STRINGS, i: INTS };
    assert.deepEqual(encode(record), msgpackr.pack(record), `record #${i}`);
  }
});

test("maps and arrays switch header forms at 16 and 65536 entries", () => {
  for (const n of [15, 16, 65535, 65536]) {
    const map = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    const array = Array.from({ length: n }, (_, i) => i);
    const record = { map, array };
    assert.deepEqual(encode(record), msgpackr.pack(record), `n = ${n}`);
    assert.deepEqual(unpackr.unpack(encode(record)), record);
  }
});

test("integers beyond 32 bits stay integers (uint64/int64) and round-trip exactly", () => {
  const values = [
    2 ** 32,
    2 ** 40 + 5,
    Number.MAX_SAFE_INTEGER,
    -(2 ** 31) - 1,
    -(2 ** 40),
    Number.MIN_SAFE_INTEGER,
  ];
  const bytes = encode({ v: values });
  const decoded = (unpackr.unpack(bytes) as { v: (number | bigint)[] }).v.map(Number);
  assert.deepEqual(decoded, values);
  assert.equal(bytes[bytes.indexOf(0xcf)], 0xcf, "uint64 marker present");
});

test("floats, NaN and infinities are float64; undefined becomes nil; null-prototype objects are maps", () => {
  const bare = Object.create(null) as Record<string, unknown>;
  bare.x = 1;
  const record = {
    f: 1.5,
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    u: undefined,
    bare,
    nested: [undefined],
  };
  const decoded = unpackr.unpack(encode(record)) as Record<string, unknown>;
  assert.deepEqual(decoded, {
    f: 1.5,
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    u: null,
    bare: { x: 1 },
    nested: [null],
  });
  assert.deepEqual(encode({ f: 1.5 }).subarray(3), Buffer.from("cb3ff8000000000000", "hex"));
});

test("a Date in a record is its ISO 8601 string, as JSON writes it (nil when invalid), never msgpack's timestamp extension", () => {
  const at = new Date("2026-12-07T10:15:30.123Z");
  const record = { at, list: [at, new Date(NaN)], nested: { at } };
  const bytes = encode(record);
  assert.deepEqual(unpackr.unpack(bytes), JSON.parse(JSON.stringify(record)));
  assert.equal(bytes.indexOf(Buffer.from([0xd7, 0xff])), -1, "no timestamp 64 extension");
  assert.equal(bytes.indexOf(Buffer.from([0xc7, 0x0c, 0xff])), -1, "no timestamp 96 extension");
});

test("values that are not JSON-like are delegated to msgpackr (Buffer as bin, Map, BigInt)", () => {
  const record = { bin: Buffer.from([1, 2, 3]), map: new Map([["a", 1]]), big: 2n ** 60n };
  assert.deepEqual(encode(record), msgpackr.pack(record));
});

test("a cyclic or absurdly deep record is rejected with FORWARD_INVALID_RECORD, and the encoder stays usable", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const encoder = new RecordEncoder();
  assert.throws(() => encodeWith(encoder, cyclic), { code: "FORWARD_INVALID_RECORD" });
  assert.deepEqual(unpackr.unpack(encodeWith(encoder, { ok: true })), { ok: true });
});

test("the batch buffer grows for large records", () => {
  const record = { blob: "b".repeat(200_000), list: Array.from({ length: 10_000 }, (_, i) => ({ i })) };
  assert.deepEqual(unpackr.unpack(encode(record)), record);
});

test("floatFields: whole numbers of the named top-level keys go as float64, the others as integers", () => {
  const encoder = new RecordEncoder();
  const record = { rate: 21, count: 2, nested: { rate: 3 }, label: "x" };
  const bytes = encodeWith(encoder, record, new Set(["rate", "label"]));
  const expected = Buffer.concat([
    Buffer.from([0x84, 0xa4, ...Buffer.from("rate"), 0xcb]),
    (() => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(21);
      return b;
    })(),
    Buffer.from([0xa5, ...Buffer.from("count"), 0x02]),
    Buffer.from([0xa6, ...Buffer.from("nested"), 0x81, 0xa4, ...Buffer.from("rate"), 0x03]),
    Buffer.from([0xa5, ...Buffer.from("label"), 0xa1, 0x78]),
  ]);
  assert.deepEqual(bytes, expected);
  assert.deepEqual(unpackr.unpack(bytes), record);
});

test("floatFields on a record of more than 15 keys still writes a map16 header", () => {
  const record: Record<string, number> = {};
  for (let i = 0; i < 20; i++) record[`k${i}`] = i;
  const encoder = new RecordEncoder();
  const bytes = encodeWith(encoder, record, new Set(["k3"]));
  assert.equal(bytes[0], 0xde);
  assert.deepEqual(unpackr.unpack(bytes), record);
  assert.equal(bytes.length, encode(record).length + 8, "k3 takes 9 bytes instead of 1");
});

test("records encoded by one encoder, keys cached from the ones before, give exactly msgpackr's bytes", () => {
  const next = rng(7);
  const encoder = new RecordEncoder();
  const records = Array.from({ length: 100 }, () => ({ r: randomValue(next, 0), s: STRINGS, i: INTS }));
  for (let round = 0; round < 2; round++) {
    records.forEach((record, i) => {
      assert.deepEqual(encodeWith(encoder, record), msgpackr.pack(record), `round ${round}, record #${i}`);
    });
  }
});

test("keys of every length and script encode the same the first time and from the cache", () => {
  const keys = [...STRINGS, "ab", "abc", "abcd", "y".repeat(62), "y".repeat(63), "キー", "☃".repeat(20)];
  const record = Object.fromEntries(keys.map((key, i) => [key, i]));
  const nested = { outer: record, list: [record, { [keys[7]!]: record }] };
  const encoder = new RecordEncoder();
  for (let round = 0; round < 3; round++) {
    assert.deepEqual(encodeWith(encoder, record), msgpackr.pack(record), `round ${round}`);
    assert.deepEqual(encodeWith(encoder, nested), msgpackr.pack(nested), `nested, round ${round}`);
  }
});

test("maps whose keys change order, number or spelling between records encode exactly", () => {
  const records = [
    { a: 1, b: 2, c: 3 },
    { a: 1, c: 3, b: 2 },
    { a: 1, b: 2 },
    { b: 2, a: 1, c: 3, d: 4 },
    { a: { a: 1, b: 2 }, b: { b: 2, a: 1 } },
    { a: 1, bb: 2, c: 3 },
    {},
    { a: 1, b: 2, c: 3 },
  ];
  const encoder = new RecordEncoder();
  for (let round = 0; round < 2; round++) {
    records.forEach((record, i) => {
      assert.deepEqual(encodeWith(encoder, record), msgpackr.pack(record), `round ${round}, record #${i}`);
    });
  }
});

test("records with more distinct keys than the cache holds (ids as keys) still encode exactly", () => {
  const encoder = new RecordEncoder();
  const total = MISSES_BEFORE_RESET + 2 * MAX_CACHED_KEYS;
  for (let i = 0; i < total; i++) {
    const record = { level: "info", users: { [`user-${i}`]: i, [`session-${i}`]: { ok: true } } };
    assert.deepEqual(encodeWith(encoder, record), msgpackr.pack(record), `record #${i}`);
  }
});

/** A target that grows to exactly the size asked for, counting how often, so that writes at its very end are tested. */
function growingTarget(): { buf: Buffer; grown: number; grow(min: number, used: number): Buffer } {
  return {
    buf: Buffer.alloc(1),
    grown: 0,
    grow(min: number, used: number): Buffer {
      this.grown++;
      const next = Buffer.alloc(min);
      this.buf.copy(next, 0, 0, used);
      this.buf = next;
      return next;
    },
  };
}

test("a cached key written at the very end of the buffer grows it first", () => {
  const target = growingTarget();
  const record = { abcdefghi: 1, "key-of-seventeen!": { x: "y".repeat(40) }, z: [1, 2] };
  const encoder = new RecordEncoder();
  for (let round = 0; round < 3; round++) {
    target.buf = Buffer.alloc(1);
    const end = encoder.encodeInto(record, target, 0);
    assert.deepEqual(target.buf.subarray(0, end), msgpackr.pack(record), `round ${round}`);
  }
  assert.ok(target.grown > 3);
});

test("a float written at the very end of the buffer is written into the grown buffer", () => {
  // Floats go through a DataView of the buffer: it must follow the buffer when the buffer grows.
  const target = growingTarget();
  const record = { a: 0.5, b: [1.25, -2.5e300, { c: Number.NaN }], d: 12.5 };
  const floats = new Set(["d"]);
  const encoder = new RecordEncoder();
  for (const floatFields of [undefined, floats]) {
    target.buf = Buffer.alloc(1);
    const end = encoder.encodeInto(record, target, 0, floatFields);
    assert.deepEqual(target.buf.subarray(0, end), msgpackr.pack(record));
  }
});

test("floatFields records, keys cached from before, keep their bytes", () => {
  const encoder = new RecordEncoder();
  const record = { rate: 21, count: 2, nested: { rate: 3 }, label: "x" };
  const floats = new Set(["rate"]);
  const first = encodeWith(encoder, record, floats);
  assert.deepEqual(encodeWith(encoder, record), msgpackr.pack(record));
  assert.deepEqual(encodeWith(encoder, record, floats), first);
});

/** The smallest str header for `bytes` UTF-8 bytes, as the msgpack spec has it. */
function strHeader(bytes: number): number[] {
  if (bytes < 32) return [0xa0 | bytes];
  if (bytes <= 0xff) return [0xd9, bytes];
  if (bytes <= 0xffff) return [0xda, bytes >>> 8, bytes & 0xff];
  return [0xdb, bytes >>> 24, (bytes >>> 16) & 0xff, (bytes >>> 8) & 0xff, bytes & 0xff];
}

test("strings take the smallest str header by their UTF-8 bytes, whatever their length in UTF-16 units", () => {
  // Strings are written before their bytes are counted: the header is guessed from the length, then corrected.
  const lengths = [
    0, 1, 10, 11, 23, 24, 31, 32, 33, 85, 86, 255, 256, 4095, 4096, 4097, 21_845, 21_846, 65_535, 65_536,
  ];
  const units = ["a", "é", "☃", "🚀"]; // 1, 2, 3 and 4 UTF-8 bytes (the rocket is 2 units)
  const encoder = new RecordEncoder();
  for (const length of lengths) {
    for (const unit of units) {
      for (const s of [unit.repeat(length), "a".repeat(Math.max(0, length - 1)) + (length > 0 ? unit : "")]) {
        const bytes = Buffer.byteLength(s, "utf8");
        const expected = Buffer.concat([
          Buffer.from([0x81, 0xa1, 0x73]),
          Buffer.from(strHeader(bytes)),
          Buffer.from(s),
        ]);
        const what = `${s.length} units of ${JSON.stringify(unit)}, ${bytes} bytes`;
        assert.deepEqual(encodeWith(encoder, { s }), expected, what);
      }
    }
  }
});

test("a string written at the very end of the buffer, whose header is guessed too small, grows it first", () => {
  const target = growingTarget();
  const record = {
    a: "é".repeat(16),
    b: "☃".repeat(90),
    c: "x".repeat(300),
    d: "Zürich",
    e: "🚀".repeat(20_000),
  };
  const encoder = new RecordEncoder();
  for (let round = 0; round < 3; round++) {
    target.buf = Buffer.alloc(1);
    const end = encoder.encodeInto(record, target, 0);
    assert.deepEqual(target.buf.subarray(0, end), msgpackr.pack(record), `round ${round}`);
    assert.deepEqual(unpackr.unpack(target.buf.subarray(0, end)), record);
  }
});
