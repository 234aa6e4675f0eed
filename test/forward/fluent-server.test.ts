import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink, EventTime, type ForwardMode } from "../../src/forward/index.js";
import { startFluentServer } from "../helpers/forward-fluent.js";

const MODES: ForwardMode[] = ["PackedForward", "Message", "Forward", "CompressedPackedForward"];

const records = [
  { msg: "hello", n: 1, ok: true, nothing: null },
  { nested: { a: [1, 2, { b: "c" }], f: 1.5 }, unicode: "héllo ☃ 🚀", neg: -42 },
  { big: 2 ** 40, empty: {}, list: [] },
];

for (const mode of MODES) {
  for (const eventTime of [true, false]) {
    for (const requireAck of [false, true]) {
      const name = `${mode} with ${eventTime ? "EventTime" : "integer seconds"}${requireAck ? " and acks" : ""}`;
      test(`FluentServer receives the exact tags, times and records sent as ${name}`, async (t) => {
        const peer = await startFluentServer();
        t.after(() => peer.close());
        const sink = new ForwardSink({ port: peer.port, mode, eventTime, requireAck });
        t.after(() => sink.close({ timeoutMs: 1000 }));
        const errors: Error[] = [];
        sink.on("serverError", (err) => errors.push(err));
        const acks: number[] = [];
        sink.on("ack", (info) => acks.push(info.events));

        assert.equal(sink.send("app.one", records[0]!, new EventTime(1700000000, 123456789)), true);
        sink.send("app.two", records[1]!, new Date(1700000001250));
        sink.send("app.one", records[2]!, 1700000002000.5);
        await sink.flush();
        await peer.waitFor(3);

        const time = (seconds: number, nanoseconds: number) =>
          eventTime ? { seconds, nanoseconds } : seconds;
        const byTag = (tag: string) => peer.entries.filter((e) => e.tag === tag);
        assert.deepEqual(byTag("app.one"), [
          { tag: "app.one", time: time(1700000000, 123456789), record: records[0] },
          { tag: "app.one", time: time(1700000002, 500000), record: records[2] },
        ]);
        assert.deepEqual(byTag("app.two"), [
          { tag: "app.two", time: time(1700000001, 250000000), record: records[1] },
        ]);
        assert.equal(peer.entries.length, 3);
        const stats = sink.stats();
        assert.equal(stats.accepted, 3);
        assert.equal(stats.sent, 3);
        assert.equal(stats.acked, requireAck ? 3 : 0);
        assert.equal(
          acks.reduce((a, b) => a + b, 0),
          requireAck ? 3 : 0,
        );
        assert.equal(stats.bufferedEvents, 0);
        assert.deepEqual(errors, []);
      });
    }
  }
}

test("an event without a time is stamped with the current time", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const sink = new ForwardSink({ port: peer.port });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const before = Date.now();
  sink.send("app.now", { a: 1 });
  await sink.flush();
  await peer.waitFor(1);
  const time = peer.entries[0]!.time as { seconds: number; nanoseconds: number };
  const ms = time.seconds * 1000 + time.nanoseconds / 1e6;
  assert.ok(ms >= before - 1 && ms <= Date.now() + 1, `time ${ms} not within the emit call`);
});

test("a thousand events across tags arrive in order per tag", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const sink = new ForwardSink({ port: peer.port, requireAck: true, batch: { maxEvents: 64 } });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  for (let i = 0; i < 1000; i++) sink.send(`app.${i % 3}`, { i });
  await sink.flush();
  await peer.waitFor(1000);
  for (const tag of ["app.0", "app.1", "app.2"]) {
    const seen = peer.entries.filter((e) => e.tag === tag).map((e) => e.record.i as number);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
  }
  assert.equal(new Set(peer.entries.map((e) => e.record.i)).size, 1000);
});
