import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink } from "../../src/forward/index.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

test("without acks, close() reports what was written and never claims delivery", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port });
  for (let i = 0; i < 50; i++) sink.send("r.tag", { i });
  const report = await sink.close({ timeoutMs: 2000 });
  assert.equal(report.written, 50);
  assert.equal(report.acknowledged, undefined, "nothing is known of the server's side without acks");
  assert.equal(report.delivered, false);
  assert.equal(report.timedOut, false);
  assert.equal(report.undeliveredEvents, 0);
  assert.equal(report.error, undefined);
});

test("with acks, close() reports delivered only when acks confirmed every event", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true, batch: { maxEvents: 10 } });
  for (let i = 0; i < 50; i++) sink.send("r.tag", { i });
  const report = await sink.close({ timeoutMs: 2000 });
  assert.deepEqual(
    [report.written, report.acknowledged, report.delivered, report.undeliveredEvents],
    [50, 50, true, 0],
  );
});

test("with acks, an event dropped on overflow means close() does not report delivered", async (t) => {
  const port = await freePort();
  const sink = new ForwardSink({
    port,
    requireAck: true,
    overflow: "dropNewest",
    bufferLimitBytes: 1024,
    reconnect: { minDelayMs: 10, maxDelayMs: 10 },
  });
  for (let i = 0; i < 100; i++) sink.send("r.tag", { pad: "x".repeat(50), i });
  const { accepted, droppedBy } = sink.stats();
  assert.ok(droppedBy.overflow > 0 && accepted > 0);
  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  const report = await sink.close({ timeoutMs: 5000 });
  assert.equal(report.acknowledged, accepted, "every accepted event was acknowledged");
  assert.equal(report.delivered, false, "but not every event that was sent");
});

test("close() with events left reports them undelivered, with FORWARD_CLOSE_TIMEOUT", async () => {
  const sink = new ForwardSink({ port: await freePort(), requireAck: true });
  sink.send("r.tag", { a: 1 });
  const report = await sink.close({ timeoutMs: 20 });
  assert.equal(report.delivered, false);
  assert.equal(report.timedOut, true);
  assert.equal(report.undeliveredEvents, 1);
  assert.equal(report.written, 0);
  assert.equal(report.acknowledged, 0);
  assert.equal(report.error?.code, "FORWARD_CLOSE_TIMEOUT");
  assert.equal(sink.stats().droppedBy.undelivered, 1);
});
