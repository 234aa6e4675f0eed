import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink, EventTime } from "../../src/index.js";
import { closeSink } from "./helpers/close.js";
import { skipWithoutPeers, waitForEvents, fluentdForTest } from "./helpers/peers.js";

test(
  "a real Fluentd receives an event sent with send(), with its tag and nanosecond EventTime",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const sink = new ForwardSink({ host: "127.0.0.1", port, requireAck: true });
    sink.send("interop.smoke", { a: 1, s: "x" }, new EventTime(1_700_000_000, 123_456_789));
    assert.equal((await closeSink(sink, 10_000)).undelivered, 0);
    const [event] = await waitForEvents(fluentd.out, (e) => e.length >= 1);
    assert.deepEqual(event, { a: 1, s: "x", _tag: "interop.smoke", _time: "2023-11-14T22:13:20.123456789Z" });
  },
);

test(
  "a record with a Date, a Buffer and a bigint reaches a real Fluentd (a Date as its ISO string: Fluentd refuses msgpack's timestamp extension with its whole chunk)",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const sink = new ForwardSink({ host: "127.0.0.1", port, requireAck: true, ackTimeoutMs: 5000 });
    const at = new Date("2026-12-07T10:15:30.123Z");
    sink.send("interop.types", { n: 1 });
    sink.send("interop.types", { n: 2, at, list: [at], big: 2n ** 60n, bin: Buffer.from("hi") });
    sink.send("interop.types", { n: 3 });
    assert.equal((await closeSink(sink, 10_000)).undelivered, 0);
    const events = await waitForEvents(fluentd.out, (e) => e.length >= 3);
    const typed = events.find((e) => e.n === 2);
    assert.deepEqual(
      [typed?.at, typed?.list, typed?.big, typed?.bin],
      ["2026-12-07T10:15:30.123Z", ["2026-12-07T10:15:30.123Z"], 2 ** 60, "hi"],
    );
    assert.deepEqual(
      events.map((e) => e.n),
      [1, 2, 3],
    );
  },
);
