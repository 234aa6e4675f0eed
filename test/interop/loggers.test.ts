import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import pino from "pino";
import winston from "winston";
import { ForwardTransport } from "uwsgi-forward/winston";
import { freePort } from "../helpers/forward-receiver.js";
import { duplicates, lineFields } from "../helpers/logger-events.js";
import {
  peerTempDir,
  settledEvents,
  skipWithoutPeers,
  startFluentd,
  waitForEvents,
} from "./helpers/peers.js";

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
    const port = await freePort();
    const fluentd = await startFluentd({ port, workdir: peerTempDir(t) });
    t.after(() => fluentd.stop());
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
    const port = await freePort();
    const fluentd = await startFluentd({ port, workdir: peerTempDir(t) });
    t.after(() => fluentd.stop());
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
