import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setImmediate as turn } from "node:timers/promises";
import { Packr } from "msgpackr";
import { ForwardSink, type DropInfo } from "../../src/forward/index.js";
import { until } from "../helpers/fake-time.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

const LIMIT = 10_000;
const N = 500;
const record = (seq: number) => ({ id: String(seq).padStart(100, "0") });

// Sizes from the encoder itself: each event is one frame (batch.maxEvents 1).
const entry = Buffer.concat([
  Buffer.from([0x92, 0xd7, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
  new Packr({ useRecords: false, variableMapSize: true }).pack(record(0)),
]);
// [fixarray 3, fixstr "t", bin8 header, the entry, {size: 1}] (the entry is under 256 bytes).
const FRAME = 1 + 2 + 2 + entry.length + 1 + 5 + 1;
/** Frames that fit: the k-th event is accepted while (k - 1) frames + its entry stay within the limit. */
const FIT = Math.floor((LIMIT - entry.length) / FRAME) + 1;

async function downSink(overflow: "block" | "dropOldest" | "dropNewest") {
  const port = await freePort();
  const sink = new ForwardSink({
    port,
    overflow,
    bufferLimitBytes: LIMIT,
    batch: { maxEvents: 1 },
    reconnect: { minDelayMs: 20, maxDelayMs: 20 },
  });
  const drops: DropInfo[] = [];
  sink.on("drop", (d) => drops.push(d));
  return { sink, port, drops };
}

test("dropNewest: with the server down, events past the byte limit are dropped and counted exactly", async (t) => {
  const { sink, port, drops } = await downSink("dropNewest");
  t.after(() => sink.close({ timeoutMs: 100 }));
  const results: boolean[] = [];
  for (let seq = 0; seq < N; seq++) results.push(sink.send("t", record(seq)));
  const stats = sink.stats();
  assert.equal(stats.accepted, FIT);
  assert.equal(stats.dropped, N - FIT);
  assert.ok(stats.bufferedBytes <= LIMIT);
  assert.equal(stats.bufferedFrames, FIT);
  assert.equal(results.filter((r) => r).length, results.indexOf(false));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(drops, [{ count: N - FIT, reason: "overflow" }]);

  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  await sink.flush();
  await receiver.waitForEvents(FIT);
  assert.deepEqual(
    receiver.events.map((e) => e.record.id),
    Array.from({ length: FIT }, (_, i) => record(i).id),
  );
});

test("dropOldest: the oldest unsent frames make room, so the newest events survive", async (t) => {
  const { sink, port, drops } = await downSink("dropOldest");
  t.after(() => sink.close({ timeoutMs: 100 }));
  for (let seq = 0; seq < N; seq++) sink.send("t", record(seq));
  assert.equal(sink.stats().accepted, N);
  assert.equal(sink.stats().dropped, N - FIT);
  assert.ok(sink.stats().bufferedBytes <= LIMIT);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(
    drops.reduce((n, d) => n + d.count, 0),
    N - FIT,
  );

  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  await sink.flush();
  await receiver.waitForEvents(FIT);
  assert.deepEqual(
    receiver.events.map((e) => e.record.id),
    Array.from({ length: FIT }, (_, i) => record(N - FIT + i).id),
  );
});

test("block: emit() returns false from half the limit on, and events emitted past the limit are dropped and counted", async (t) => {
  const { sink } = await downSink("block");
  t.after(() => sink.close({ timeoutMs: 100 }));
  const results: boolean[] = [];
  for (let seq = 0; seq < N; seq++) results.push(sink.send("t", record(seq)));
  const firstFalse = results.indexOf(false);
  assert.equal(firstFalse, Math.ceil(LIMIT / 2 / FRAME) - 1);
  assert.equal(sink.stats().accepted, FIT);
  assert.equal(sink.stats().dropped, N - FIT);
});

test("block: after emit() returned false, drain comes once the buffer is back under half the limit", async (t) => {
  const { sink, port } = await downSink("block");
  t.after(() => sink.close({ timeoutMs: 100 }));
  const bufferedAtDrain: number[] = [];
  sink.on("drain", () => bufferedAtDrain.push(sink.stats().bufferedBytes));
  for (let seq = 0; seq < N; seq++) sink.send("t", record(seq));
  const held = new Promise<void>((resolve, reject) =>
    sink.write({ tag: "t", record: record(N) }, (err) => (err ? reject(err) : resolve())),
  );

  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  await held;
  await sink.flush();
  assert.ok(bufferedAtDrain.length >= 1, "drain was emitted");
  for (const bytes of bufferedAtDrain) assert.ok(bytes < LIMIT / 2, `drain with ${bytes} bytes buffered`);
});

test("block: the Writable side waits for room while the server is down and loses nothing", async (t) => {
  const { sink, port, drops } = await downSink("block");
  t.after(() => sink.close({ timeoutMs: 100 }));
  let maxBuffered = 0;
  const items = Readable.from(
    (function* () {
      for (let seq = 0; seq < N; seq++) {
        maxBuffered = Math.max(maxBuffered, sink.stats().bufferedBytes);
        yield { tag: "t", record: record(seq), time: 1_700_000_000_000 + seq };
      }
    })(),
  );
  const done = pipeline(items, sink);
  // The sink fills up, and the Writable asks the pipeline to wait: it stalls.
  await until(
    () => sink.writableNeedDrain && sink.stats().bufferedBytes >= LIMIT - FRAME,
    "the buffer full and the pipeline stalled",
  );
  const stalledAt = sink.stats().accepted;
  for (let i = 0; i < 100; i++) await turn(); // the event loop goes on (the sink retries): nothing more gets in
  assert.equal(sink.stats().accepted, stalledAt);

  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  await done;
  await receiver.waitForEvents(N);
  assert.equal(receiver.events.length, N);
  assert.deepEqual(
    receiver.events.map((e) => e.record.id),
    Array.from({ length: N }, (_, i) => record(i).id),
  );
  assert.equal(sink.stats().dropped, 0);
  assert.deepEqual(drops, []);
  assert.ok(maxBuffered <= LIMIT + FRAME, `buffered ${maxBuffered} bytes`);
});

test("send() after close drops the event and counts it with reason closed", async () => {
  const sink = new ForwardSink({ port: await freePort(), requireAck: true });
  const report = await sink.close({ timeoutMs: 100 });
  assert.equal(report.delivered, true);
  const drops: DropInfo[] = [];
  sink.on("drop", (d) => drops.push(d));
  assert.equal(sink.send("t", { late: true }), false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(drops, [{ count: 1, reason: "closed" }]);
  assert.equal(sink.stats().dropped, 1);
});

test("close() never hangs on a server that never acks: it reports exactly what was not delivered", async (t) => {
  const receiver = await ForwardReceiver.start({ ack: false });
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true, batch: { maxEvents: 10 } });
  for (let i = 0; i < 95; i++) sink.send("t", { i });
  const drops: DropInfo[] = [];
  sink.on("drop", (d) => drops.push(d));
  const report = await sink.close({ timeoutMs: 150 });
  assert.equal(report.delivered, false);
  assert.equal(report.timedOut, true);
  assert.equal(report.undeliveredEvents, 95);
  assert.equal(report.undeliveredFrames, 10);
  assert.ok(report.undeliveredBytes > 95 * 5);
  assert.equal(report.error?.code, "FORWARD_CLOSE_TIMEOUT");
  assert.deepEqual(drops, [{ count: 95, reason: "undelivered" }]);
  assert.equal(sink.destroyed, true);
  assert.equal(await sink.close(), report);
});

test("close() drains to the server first: everything delivered, nothing reported", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true });
  for (let i = 0; i < 1000; i++) sink.send("t", { i });
  const report = await sink.close({ timeoutMs: 5000 });
  assert.deepEqual(
    { delivered: report.delivered, undeliveredEvents: report.undeliveredEvents, error: report.error },
    { delivered: true, undeliveredEvents: 0, error: undefined },
  );
  assert.equal(receiver.events.length, 1000);
});

test("close() re-probes a server waiting out its backoff and drains to it", async (t) => {
  const port = await freePort();
  const sink = new ForwardSink({ port, requireAck: true, reconnect: { minDelayMs: 60_000 } });
  for (let i = 0; i < 20; i++) sink.send("t", { i });
  await once(sink, "serverError");
  assert.equal(sink.stats().servers[0]!.state, "down");
  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  const report = await sink.close({ timeoutMs: 5000 });
  assert.equal(report.delivered, true);
  assert.equal(receiver.events.length, 20);
});
