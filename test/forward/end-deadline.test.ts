import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ForwardSink } from "../../src/forward/index.js";
import { TestClock, until } from "../helpers/fake-time.js";
import { FAULT_TAG, numbered } from "../helpers/misbehaving-emit.js";
import { freePort } from "../helpers/free-port.js";

function items(n: number): Readable {
  return Readable.from(Array.from({ length: n }, (_, id) => ({ tag: FAULT_TAG, record: numbered(id) })));
}

test("pipeline(source, sink) ends at closeTimeoutMs while every server is down; close() then reports what was given up", async () => {
  const clock = new TestClock();
  const sink = new ForwardSink({ port: await freePort(), requireAck: true, closeTimeoutMs: 2000, clock });
  let ended = false;
  const done = pipeline(items(100), sink).then(() => (ended = true));
  await until(() => sink.writableEnded, "the source ended the sink");
  clock.tick(1999);
  await until(() => sink.stats().servers[0]!.lastError !== undefined, "the server was tried");
  assert.equal(ended, false, "still delivering inside the deadline");
  clock.tick(1);
  await done;
  const report = await sink.close();
  assert.equal(report.undeliveredEvents, 100);
  assert.equal(report.timedOut, true);
  assert.equal(sink.stats().droppedBy.undelivered, 100);
});

test("with overflow block, a write waiting for room does not hold end() past closeTimeoutMs: it is counted as dropped", async () => {
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: await freePort(),
    bufferLimitBytes: 1024,
    closeTimeoutMs: 500,
    clock,
  });
  for (let id = 0; id < 100; id++) sink.write({ tag: FAULT_TAG, record: numbered(id) });
  let finished = false;
  sink.end(() => (finished = true));
  await until(() => sink.stats().servers[0]!.lastError !== undefined, "the server was tried");
  assert.ok(sink.stats().accepted < 100, "writes are waiting for room");
  assert.equal(finished, false);
  clock.tick(500);
  await until(() => finished, "end() finished at the deadline");
  const stats = sink.stats();
  assert.equal(
    stats.accepted + stats.droppedBy.closed,
    100,
    "every item was accepted or dropped at the deadline",
  );
  assert.equal(stats.droppedBy.undelivered, stats.accepted, "nothing was delivered");
  assert.equal(stats.dropped, 100);
});
