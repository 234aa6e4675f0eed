import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import pino from "pino";
import winston from "winston";
import { ForwardTransport } from "uwsgi-forward/winston";
import { duplicates, lineFields } from "../helpers/logger-events.js";
import { settledEvents, skipWithoutPeers, waitForEvents, fluentdForTest } from "./helpers/peers.js";

const LINES = 10_000;
const BASE_MS = 1_700_000_000_000;

/** Fluentd's `_time` for epoch milliseconds `ms` (nanosecond digits). */
function fluentdTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

/** Waits for `LINES` events, then until the file stops growing, and checks each id arrived once. */
async function exactlyOnce(out: string): Promise<Record<string, unknown>[]> {
  await waitForEvents(out, (e) => e.length >= LINES, 60_000);
  const events = await settledEvents(out, 1500);
  assert.equal(events.length, LINES);
  assert.equal(duplicates(events.map((e) => e.id as number)), 0);
  return events;
}

test(
  "10,000 pino lines reach a real Fluentd exactly once with acks on, with the tag, pino's time and every field",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const transport = pino.transport({
      target: "uwsgi-forward/pino",
      options: { port, requireAck: true, tag: "interop.pino", levelAs: "label" },
    });
    let now = BASE_MS;
    const logger = pino({ timestamp: () => `,"time":${now}`, base: undefined }, transport);
    for (let i = 0; i < LINES; i++) {
      now = BASE_MS + i;
      logger.info(lineFields(i), "line");
    }
    // thread-stream unrefs pino's worker once it is ready: keep this test's process alive until it closed.
    const keepAlive = setInterval(() => {}, 1000);
    const closed = once(transport, "close");
    transport.end();
    await closed;
    clearInterval(keepAlive);
    for (const event of await exactlyOnce(fluentd.out)) {
      const i = event.id as number;
      assert.deepEqual(event, {
        level: "info",
        ...lineFields(i),
        msg: "line",
        _tag: "interop.pino",
        _time: fluentdTime(BASE_MS + i),
      });
    }
  },
);

test(
  "10,000 winston lines reach a real Fluentd exactly once with acks on, with the tag, the time they were logged and every field",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const logger = winston.createLogger({
      transports: [new ForwardTransport({ port, requireAck: true, tag: "interop.winston" })],
    });
    const before = fluentdTime(Date.now());
    for (let i = 0; i < LINES; i++) logger.info("line", lineFields(i));
    const after = fluentdTime(Date.now());
    const finished = once(logger, "finish");
    logger.end();
    await finished;
    for (const event of await exactlyOnce(fluentd.out)) {
      const { _time, ...rest } = event as { _time: string };
      assert.deepEqual(rest, {
        ...lineFields(event.id as number),
        level: "info",
        message: "line",
        _tag: "interop.winston",
      });
      assert.ok(
        _time >= before && _time <= after && _time.endsWith("000000Z"),
        `${_time} in [${before}, ${after}]`,
      );
    }
  },
);

test(
  "a winston record with a Buffer, bigints, a Date and nested objects reaches a real Fluentd with the lines around it",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const logger = winston.createLogger({
      transports: [new ForwardTransport({ port, requireAck: true, tag: "interop.types" })],
    });
    logger.info("before", { id: 0 });
    logger.info("typed", {
      id: 1,
      payload: Buffer.from("raw bytes"),
      small: 5n,
      huge: 2n ** 62n + 1n,
      at: new Date(1_700_000_000_123),
      request: { headers: { "x-id": "a" }, sizes: [1n, 1.5] },
    });
    logger.info("after", { id: 2 });
    const finished = once(logger, "finish");
    logger.end();
    await finished;
    const events = await waitForEvents(fluentd.out, (e) => e.length >= 3, 30_000);
    const byId = Object.fromEntries(events.map((e) => [e.id, e]));
    assert.deepEqual(
      Object.keys(byId).sort(),
      ["0", "1", "2"],
      "a msgpack timestamp would have lost all three",
    );
    const { _time, ...typed } = byId[1] as { _time: string };
    assert.ok(_time.endsWith("000000Z"));
    // Fluentd's JSON: bin as its text, int64 as a number (2^62 + 1 rounds in JavaScript's parse), the Date a string.
    assert.deepEqual(typed, {
      id: 1,
      payload: "raw bytes",
      small: 5,
      huge: Number(2n ** 62n + 1n),
      at: "2023-11-14T22:13:20.123Z",
      request: { headers: { "x-id": "a" }, sizes: [1, 1.5] },
      level: "info",
      message: "typed",
      _tag: "interop.types",
    });
  },
);
