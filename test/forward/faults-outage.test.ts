import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ForwardSink, type OverflowPolicy } from "../../src/forward/index.js";
import { until } from "../helpers/fake-time.js";
import { FAULT_TAG, numbered, watch } from "../helpers/misbehaving-emit.js";
import type { ForwardReceiver } from "../helpers/forward-receiver.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

const LIMIT = 256 * 1024;

/** Two servers, both down; the sink knows them but cannot reach either. */
async function twoServersDown(
  t: TestContext,
  overflow: OverflowPolicy,
): Promise<{ a: ForwardReceiver; b: ForwardReceiver; sink: ForwardSink }> {
  const a = await forwardReceiver();
  const b = await forwardReceiver();
  await a.stop();
  await b.stop();
  t.after(() => a.close());
  t.after(() => b.close());
  const sink = new ForwardSink({
    requireAck: true,
    bufferLimitBytes: LIMIT,
    overflow,
    reconnect: { minDelayMs: 20, maxDelayMs: 100 },
    servers: [{ port: a.port }, { port: b.port }],
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  return { a, b, sink };
}

/**
 * Waits until the sink has failed to reach both servers. A server's repeated failures are not re-reported
 * (`serverError` comes once per fault), so this watches each server's last error, which only ever gets set.
 */
function bothDown(sink: ForwardSink): Promise<void> {
  return until(
    () => sink.stats().servers.every((s) => s.lastError !== undefined),
    "both servers failed at least once",
  );
}

/** Emits ids [0, n) while every server is down; checks the buffer bound after every event. */
function emitDuringOutage(sink: ForwardSink, n: number): { maxBuffered: number } {
  let maxBuffered = 0;
  for (let id = 0; id < n; id++) {
    sink.send(FAULT_TAG, numbered(id));
    maxBuffered = Math.max(maxBuffered, sink.stats().bufferedBytes);
  }
  return { maxBuffered };
}

function arrivedIds(...servers: ForwardReceiver[]): number[] {
  return [...new Set(servers.flatMap((s) => s.events.map((e) => e.record.id as number)))].sort(
    (x, y) => x - y,
  );
}

test("nothing is lost when every server is down for a while and the backlog fits in the buffer", async (t) => {
  const { a, b, sink } = await twoServersDown(t, "dropNewest");
  const seen = watch(sink);
  emitDuringOutage(sink, 2000); // about 200 KB, under the 256 KiB limit
  await bothDown(sink);
  await Promise.all([a.start(), b.start()]);
  await sink.flush();
  assert.equal(arrivedIds(a, b).length, 2000);
  assert.equal(a.duplicates + b.duplicates, 0);
  assert.equal(sink.stats().dropped, 0);
  assert.equal(seen.dropped, 0);
  assert.deepEqual(seen.errors, []);
});

/**
 * Both servers down while 20,000 events (about 2 MB) go into a 256 KiB buffer under `policy`; then both come back.
 * Asserts the bound, the exact drop count, and that the arrivals are one contiguous run of ids: the oldest
 * (`kept: "oldest"`) or the newest.
 */
async function outageKeeps(t: TestContext, policy: "dropNewest" | "dropOldest", kept: "oldest" | "newest") {
  const total = 20_000;
  const { a, b, sink } = await twoServersDown(t, policy);
  const seen = watch(sink);
  const { maxBuffered } = emitDuringOutage(sink, total);
  await bothDown(sink);
  assert.ok(maxBuffered <= LIMIT, `buffered ${maxBuffered} bytes, limit ${LIMIT}`);
  const dropped = sink.stats().dropped;
  assert.ok(dropped > 15_000, `${dropped} dropped`);
  assert.equal(seen.dropped, dropped, "drop events add up to the dropped count");

  await Promise.all([a.start(), b.start()]);
  await sink.flush();
  const arrived = arrivedIds(a, b);
  assert.equal(arrived.length + dropped, total, "each event either arrived or was counted as dropped");
  const first = kept === "oldest" ? 0 : total - arrived.length;
  assert.deepEqual(
    arrived,
    Array.from({ length: arrived.length }, (_, i) => first + i),
    `the ${kept} events arrived`,
  );
  assert.deepEqual(seen.errors, []);
}

test("dropNewest: beyond the buffer bound the newest events are dropped, counted exactly, and the oldest arrive", (t) =>
  outageKeeps(t, "dropNewest", "oldest"));

test("dropOldest: beyond the buffer bound the oldest events are dropped, counted exactly, and the newest arrive", (t) =>
  outageKeeps(t, "dropOldest", "newest"));

test("block: a pipeline into the sink stalls at the buffer bound while every server is down, then delivers everything", async (t) => {
  const { a, b, sink } = await twoServersDown(t, "block");
  const seen = watch(sink);
  let produced = 0;
  const source = Readable.from(
    (function* () {
      for (let id = 0; id < 20_000; id++) {
        produced++;
        yield { tag: FAULT_TAG, record: numbered(id) };
      }
    })(),
  );
  let maxBuffered = 0;
  const sample = setInterval(() => (maxBuffered = Math.max(maxBuffered, sink.stats().bufferedBytes)), 5);
  t.after(() => clearInterval(sample));
  const done = pipeline(source, sink);
  // The pipeline stalls: the buffer is full and the Writable asks the source to wait.
  await until(() => sink.writableNeedDrain, "the pipeline stalled at the buffer bound");
  await bothDown(sink);
  assert.ok(produced < 20_000, `the source was paused after ${produced} items`);
  // The Writable holds an item until it fits: the buffer never goes past the limit.
  assert.ok(maxBuffered <= LIMIT, `buffered ${maxBuffered} bytes, limit ${LIMIT}`);

  await Promise.all([a.start(), b.start()]);
  await done;
  clearInterval(sample);
  assert.equal(arrivedIds(a, b).length, 20_000);
  assert.equal(sink.stats().dropped, 0);
  assert.equal(seen.dropped, 0);
  assert.deepEqual(seen.errors, []);
});
