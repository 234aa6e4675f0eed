import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { ForwardSink } from "../../src/forward/index.js";
import { emitIds, unacked, watch } from "../helpers/misbehaving-emit.js";
import { dropAfterFrames, forwardReceiver } from "../helpers/misbehaving-servers.js";

const TOTAL = 100_000;

test("with acks, every one of 100k events arrives when the server is killed and restarted mid-stream, duplicates no more than the events un-acked at the cut", async (t) => {
  const server = await forwardReceiver();
  t.after(() => server.close());
  const sink = new ForwardSink({
    port: server.port,
    requireAck: true,
    ackTimeoutMs: 5000,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const seen = watch(sink);

  let unackedAtCut = -1;
  let takenWithoutAck = -1;
  const cut = (async () => {
    await server.waitForUnique(TOTAL * 0.3);
    // The server takes 5 more frames in without acking them, then dies: connections destroyed mid-stream.
    server.acking = false;
    const before = server.events.length;
    await server.waitForUnique(TOTAL * 0.35);
    takenWithoutAck = server.events.length - before;
    unackedAtCut = unacked(sink.stats());
    const disconnected = once(sink, "disconnect");
    await server.stop();
    await disconnected;
    server.acking = true;
    await server.start();
  })();
  await emitIds(sink, 0, TOTAL);
  await cut;
  await sink.flush();

  assert.equal(server.unique, TOTAL, "every event arrived");
  assert.ok(server.duplicates >= takenWithoutAck, "the events taken in without ack came back");
  assert.ok(
    server.duplicates <= unackedAtCut,
    `${server.duplicates} duplicates, ${unackedAtCut} events were un-acked at the cut`,
  );
  assert.equal(server.events.length, TOTAL + server.duplicates);
  const stats = sink.stats();
  assert.equal(stats.accepted, TOTAL);
  assert.equal(stats.sent, TOTAL);
  assert.equal(stats.acked, TOTAL, "each frame is acked once");
  assert.equal(stats.dropped, 0);
  assert.ok(stats.retried >= server.duplicates, "only re-sent events can arrive twice");
  assert.ok(seen.codes.includes("FORWARD_CONNECTION_CLOSED"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.deepEqual(seen.errors, []);
  assert.equal(server.connections, 2);
  t.diagnostic(
    `${takenWithoutAck} events taken in without ack, ${unackedAtCut} un-acked at the cut; ` +
      `${stats.retried} re-sent; ${server.duplicates} duplicates arrived`,
  );
  const report = await sink.close({ timeoutMs: 1000 });
  assert.equal(report.delivered, true);
  assert.equal(report.undeliveredEvents, 0);
});

for (const mode of ["PackedForward", "CompressedPackedForward", "Forward", "Message"] as const) {
  test(`with acks in ${mode} mode, every event arrives from a server that drops each connection mid-stream`, async (t) => {
    // A frame carries up to 1000 events (one in Message mode): cut every connection at its 3rd (300th) frame.
    const cutAt = mode === "Message" ? 300 : 3;
    const events = mode === "Message" ? 2000 : 10_000;
    const server = await dropAfterFrames(cutAt);
    t.after(() => server.close());
    const sink = new ForwardSink({
      port: server.port,
      mode,
      requireAck: true,
      reconnect: { minDelayMs: 10, maxDelayMs: 100 },
    });
    t.after(() => sink.close({ timeoutMs: 1000 }));
    const seen = watch(sink);
    await emitIds(sink, 0, events);
    await sink.flush();
    assert.equal(server.unique, events, "every event arrived");
    // At least once: acks the server wrote just before a reset can be lost with it, and their frames come again.
    assert.ok(server.duplicates <= sink.stats().retried, "only re-sent events arrive twice");
    assert.deepEqual([...server.modes], [mode]);
    assert.ok(server.connections > 2, `${server.connections} connections`);
    const stats = sink.stats();
    assert.equal(stats.acked, events);
    assert.ok(stats.retried > 0);
    assert.equal(stats.dropped, 0);
    assert.deepEqual(seen.errors, []);
  });
}
