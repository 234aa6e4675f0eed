import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { ForwardSink, type OverflowPolicy, type SinkStats } from "../../src/forward/index.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

/** The invariant SinkStats documents: every accepted event is settled, still buffered, or dropped after accept. */
function assertBalanced(stats: SinkStats, requireAck: boolean, when: string): void {
  const settled = requireAck ? stats.acked : stats.sent;
  const after = stats.droppedBy.evicted + stats.droppedBy.undelivered;
  assert.equal(
    stats.accepted,
    settled + stats.bufferedEvents + after,
    `${when}: accepted ${stats.accepted} = settled ${settled} + buffered ${stats.bufferedEvents} + dropped after accept ${after}`,
  );
  assert.equal(
    stats.dropped,
    Object.values(stats.droppedBy).reduce((a, b) => a + b, 0),
    `${when}: dropped is the sum of droppedBy`,
  );
}

const record = (i: number) => ({ i, pad: "x".repeat(80) });

for (const overflow of ["block", "dropOldest", "dropNewest"] as OverflowPolicy[]) {
  for (const requireAck of [false, true]) {
    test(`accepted = settled + buffered + dropped after accept, under ${overflow}, acks ${requireAck ? "on" : "off"}`, async (t) => {
      const port = await freePort();
      const sink = new ForwardSink({
        port,
        overflow,
        requireAck,
        bufferLimitBytes: 8 * 1024,
        batch: { maxEvents: 5 },
        reconnect: { minDelayMs: 10, maxDelayMs: 20 },
      });
      for (let i = 0; i < 500; i++) sink.send("c.tag", record(i));
      const down = sink.stats();
      assert.ok(down.dropped > 0, "the outage overflowed the buffer");
      assert.equal(down.accepted + down.droppedBy.overflow, 500, "every send was accepted or refused");
      if (overflow === "dropOldest")
        assert.ok(down.droppedBy.evicted > 0, "dropOldest evicted accepted events");
      assertBalanced(down, requireAck, "server down");

      const receiver = await ForwardReceiver.start({ port });
      t.after(() => receiver.close());
      for (let i = 500; i < 1000; i++) {
        sink.send("c.tag", record(i));
        if (i % 50 === 0) {
          assertBalanced(sink.stats(), requireAck, `sending, event ${i}`);
          await yieldToIo();
        }
      }
      await sink.flush();
      assertBalanced(sink.stats(), requireAck, "flushed");
      const up = sink.stats();
      assert.equal(up.bufferedEvents, 0);
      await sink.close({ timeoutMs: 1000 });
      assertBalanced(sink.stats(), requireAck, "closed");
    });
  }
}

test("events still buffered at close count as dropped after accept (undelivered), and the counters still balance", async () => {
  const sink = new ForwardSink({ port: await freePort(), reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
  for (let i = 0; i < 20; i++) sink.send("c.tag", record(i));
  await sink.close({ timeoutMs: 10 });
  const stats = sink.stats();
  assert.equal(stats.droppedBy.undelivered, 20);
  assertBalanced(stats, false, "closed");
  sink.send("c.tag", record(99));
  assert.equal(sink.stats().droppedBy.closed, 1, "sent after close: refused, never accepted");
  assertBalanced(sink.stats(), false, "after close");
});

for (const requireAck of [false, true]) {
  test(`the counters agree inside connect, disconnect and serverError listeners, after a server that closes after 2 frames (acks ${requireAck ? "on" : "off"})`, async (t) => {
    const receiver = await ForwardReceiver.start({
      onFrame: (_frame, n) => (n > 2 ? "drop-connection" : "accept"),
    });
    t.after(() => receiver.close());
    const sink = new ForwardSink({
      port: receiver.port,
      requireAck,
      batch: { maxEvents: 1 },
      reconnect: { minDelayMs: 1, maxDelayMs: 5 },
      // Each connection dies within a second: frames must count as sent when written, not after the grace.
      handshakeGraceMs: 0,
    });
    const calls = { connect: 0, disconnect: 0, serverError: 0 };
    const seen: string[] = [];
    for (const event of ["connect", "disconnect", "serverError"] as const) {
      sink.on(event, () => {
        calls[event]++;
        const s = sink.stats();
        const settled = requireAck ? s.acked : s.sent;
        const total = settled + s.bufferedEvents + s.droppedBy.evicted + s.droppedBy.undelivered;
        if (s.accepted !== total) {
          seen.push(`${event}: accepted ${s.accepted} != settled ${settled} + buffered ${s.bufferedEvents}`);
        }
      });
    }
    for (let i = 0; i < 400; i++) {
      sink.send("c.tag", record(i));
      if (i % 20 === 0) await yieldToIo();
    }
    await sink.close({ timeoutMs: 5000 });
    assert.ok(calls.connect > 2, `${calls.connect} connects`);
    assert.deepEqual(seen, []);
  });
}
