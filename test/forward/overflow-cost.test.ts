import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ForwardSink } from "../../src/index.js";
import { RecordEncoder } from "../../src/forward/protocol/record-encoder.js";
import { freePort } from "../helpers/free-port.js";

const RECORD = { msg: "x".repeat(100), n: 1 };

/** A dropNewest sink with a 64 KiB buffer and no server to drain it, closed when the test ends. */
async function serverlessSink(t: TestContext): Promise<ForwardSink> {
  const sink = new ForwardSink({
    port: await freePort(),
    bufferLimitBytes: 64 * 1024,
    overflow: "dropNewest",
    reconnect: { minDelayMs: 10_000, maxDelayMs: 10_000 },
  });
  sink.on("serverError", () => {});
  t.after(() => sink.close({ timeoutMs: 0 }));
  return sink;
}

/** Sends 10,000 events of ~110 bytes: the buffer fills and most of them are dropped. */
function fill(sink: ForwardSink): void {
  for (let i = 0; i < 10_000; i++) sink.send("cost.tag", RECORD);
}

test("with a full buffer, dropNewest drops events without encoding them", async (t) => {
  const proto = RecordEncoder.prototype;
  const original = proto.encodeInto;
  let encoded = 0;
  proto.encodeInto = function (this: RecordEncoder, ...args: Parameters<RecordEncoder["encodeInto"]>) {
    encoded++;
    return original.apply(this, args);
  };
  t.after(() => {
    proto.encodeInto = original;
  });
  const sink = await serverlessSink(t);
  fill(sink);
  const stats = sink.stats();
  assert.ok(stats.dropped > 9000, `${stats.dropped} dropped`);
  assert.equal(stats.accepted + stats.dropped, 10_000);
  // Only the events that might fit are encoded: the accepted ones, and the one that found no room.
  assert.ok(encoded <= stats.accepted + 1, `${encoded} encoded for ${stats.accepted} accepted`);
});

test("with a full buffer, dropNewest reads the clock only for the events it encodes", async (t) => {
  const now = t.mock.method(Date, "now");
  const sink = await serverlessSink(t);
  const readsBefore = now.mock.callCount();
  fill(sink);
  const stats = sink.stats();
  assert.ok(stats.dropped > 9000, `${stats.dropped} dropped`);
  const reads = now.mock.callCount() - readsBefore;
  // One reading per encoded event (the accepted ones and the one that found no room), and a few for the reconnect
  // schedule of the refused connection; the 9000+ dropped events read none.
  assert.ok(reads <= stats.accepted + 1 + 4, `${reads} clock readings for ${stats.accepted} accepted`);
});

test("with a full buffer, a time that is not valid is still refused at the call", async (t) => {
  const sink = await serverlessSink(t);
  fill(sink);
  assert.ok(sink.stats().dropped > 9000);
  assert.throws(() => sink.send("cost.tag", RECORD, 1_700_000_000), {
    code: "FORWARD_INVALID_TIME",
    message: /looks like seconds/,
  });
});
