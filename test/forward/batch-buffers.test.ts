import assert from "node:assert/strict";
import { test } from "node:test";
import { Unpackr } from "msgpackr";
import { Batcher, type BatcherOptions } from "../../src/forward/batching/batcher.js";
import { MemoryFrameStore } from "../../src/forward/store/memory-store.js";
import type { Frame } from "../../src/forward/batching/frame.js";

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

function batcher(batch: Partial<BatcherOptions["batch"]>): { batcher: Batcher; frames: MemoryFrameStore } {
  const frames = new MemoryFrameStore(64 * 1024 * 1024);
  const opts: BatcherOptions = {
    mode: "PackedForward",
    eventTime: false,
    requireAck: false,
    batch: { maxEvents: 1000, maxBytes: 1024 * 1024, maxDelayMs: 60_000, ...batch },
  };
  const b = new Batcher(opts, frames, () => {});
  return { batcher: b, frames };
}

function add(b: Batcher, tag: string, record: Record<string, unknown>, seconds = 1): void {
  b.encode(tag, seconds, 0, record);
  b.commit();
}

function decode(frame: Frame): { tag: string; records: unknown[] } {
  const [tag, entries] = unpackr.unpack(frame.bytes) as [string, Buffer];
  const records = unpackr.unpackMultiple(entries) as [number, unknown][];
  return { tag, records: records.map(([, r]) => r) };
}

test("records encoded in place: an event that crosses maxBytes starts the next frame intact", (t) => {
  const { batcher: b, frames } = batcher({ maxBytes: 20_000 });
  t.after(() => b.stopTimer());
  const big = (i: number) => ({ i, pad: "x".repeat(7000) });
  for (let i = 0; i < 5; i++) add(b, "in.place", big(i));
  b.sealOpen();
  const out: Frame[] = [];
  for (let f = frames.shift(); f; f = frames.shift()) out.push(f);
  assert.deepEqual(
    out.map((f) => decode(f).records.map((r) => (r as { i: number }).i)),
    [[0, 1], [2, 3], [4]],
  );
  assert.deepEqual(decode(out[1]!).records[0], big(2));
});

test("a discarded event leaves no trace in its batch", (t) => {
  const { batcher: b, frames } = batcher({});
  t.after(() => b.stopTimer());
  add(b, "d.tag", { keep: 1 });
  b.encode("d.tag", 1, 0, { dropped: true });
  b.discard();
  add(b, "d.tag", { keep: 2 });
  b.sealOpen();
  assert.deepEqual(decode(frames.shift()!).records, [{ keep: 1 }, { keep: 2 }]);
});

test("a settled frame's buffer carries a later batch instead of a fresh allocation", (t) => {
  const { batcher: b, frames } = batcher({ maxEvents: 100 });
  t.after(() => b.stopTimer());
  const record = { msg: "y".repeat(1000) };
  for (let i = 0; i < 100; i++) add(b, "reuse", record);
  const first = frames.shift()!;
  assert.ok(first.backing, "a full frame is a view of its batch buffer");
  const backing = first.backing;
  frames.settle(first);
  b.recycle(first);
  for (let i = 0; i < 200; i++) add(b, "reuse", record);
  const second = frames.shift()!;
  const third = frames.shift()!;
  assert.deepEqual(decode(third).records.length, 100);
  assert.ok(second.backing === backing || third.backing === backing, "the recycled buffer is used again");
  assert.ok(third.bytes.buffer !== second.bytes.buffer, "frames in flight never share memory");
});

test("a frame evicted before it was written gives its object to the next frame; a written one does not", (t) => {
  const { batcher: b, frames } = batcher({ maxEvents: 2 });
  t.after(() => b.stopTimer());
  add(b, "e.tag", { n: 1 });
  add(b, "e.tag", { n: 2 });
  const evicted = frames.shift()!;
  assert.ok(frames.settle(evicted));
  b.evicted(evicted);
  add(b, "e.tag", { n: 3 });
  add(b, "e.tag", { n: 4 });
  const next = frames.shift()!;
  assert.equal(next, evicted, "the evicted frame's object was reused");
  assert.equal(next.settled, false);
  assert.equal(next.seq, 2);
  assert.deepEqual(decode(next).records, [{ n: 3 }, { n: 4 }]);

  frames.taken(next); // taken to be written once, then settled by its server
  assert.ok(frames.settle(next));
  b.evicted(next);
  add(b, "e.tag", { n: 5 });
  add(b, "e.tag", { n: 6 });
  const fresh = frames.shift()!;
  assert.notEqual(fresh, next, "a frame that was written is never reused");
  assert.deepEqual(decode(fresh).records, [{ n: 5 }, { n: 6 }]);
});
