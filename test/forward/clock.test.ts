import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink, type CloseReport } from "../../src/forward/index.js";
import { TestClock, until } from "../helpers/fake-time.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

test("a batch becomes a frame batch.maxDelayMs after its first event on the sink's clock, not before", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: receiver.port,
    requireAck: true,
    batch: { maxDelayMs: 60_000 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  for (let i = 0; i < 3; i++) sink.send("clock.app", { i });
  await until(() => sink.stats().servers[0]!.state === "up", "the sink connected");

  clock.tick(59_999);
  assert.equal(sink.stats().bufferedFrames, 0, "the batch is still open 1 ms before maxDelayMs");
  assert.equal(sink.stats().bufferedEvents, 3);
  clock.tick(1);
  await until(() => sink.stats().acked === 3, "the frame acknowledged");
  assert.equal(receiver.frames.length, 1, "the three events went as one frame");

  // The next event starts the next batch, and its own delay.
  sink.send("clock.app", { i: 3 });
  clock.tick(59_999);
  assert.equal(sink.stats().bufferedFrames, 0);
  clock.tick(1);
  await until(() => sink.stats().acked === 4, "the second frame acknowledged");
  assert.equal(receiver.frames.length, 2);
});

test("close() gives up at closeTimeoutMs on the sink's clock while the server is down, not before", async (t) => {
  const clock = new TestClock();
  const sink = new ForwardSink({ port: await freePort(), closeTimeoutMs: 10_000, clock });
  t.after(() => sink.close({ timeoutMs: 0 }));
  sink.send("clock.app", { i: 0 });
  let report: CloseReport | undefined;
  void sink.close().then((r) => (report = r));
  await until(() => sink.stats().servers[0]!.lastError !== undefined, "the server was tried");

  clock.tick(9_999);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(report, undefined, "still trying inside the deadline");
  clock.tick(1);
  await until(() => report !== undefined, "close() resolved at the deadline");
  assert.equal(report!.timedOut, true);
  assert.equal(report!.undeliveredEvents, 1);
  assert.equal(report!.error?.code, "FORWARD_CLOSE_TIMEOUT");
  assert.equal(sink.stats().droppedBy.undelivered, 1);
});
