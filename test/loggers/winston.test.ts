import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import winston from "winston";
import { InvalidOptionError } from "uwsgi-forward";
import { ForwardTransport, type LoggerCloseSummary } from "uwsgi-forward/winston";
import { startFluentServer } from "../helpers/forward-fluent.js";
import { freePort } from "../helpers/forward-receiver.js";
import {
  assertOutageAccounted,
  duplicates,
  keepAlive,
  lineFields,
  OUTAGE_LINES,
  OUTAGE_OPTIONS,
  watchTransport,
} from "../helpers/logger-events.js";

/** Ends the logger and resolves once it finished: ForwardTransport delivered what it had and closed. */
async function endLogger(logger: winston.Logger): Promise<void> {
  const finished = once(logger, "finish");
  logger.end();
  await finished;
}

test("10,000 winston lines reach a FluentServer exactly once, with the tag, the time they were logged (ms) and every field", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = new ForwardTransport({ port: peer.port, tag: "app", tagPrefix: "winston." });
  const seen = watchTransport(transport);
  const logger = winston.createLogger({ transports: [transport] });
  const before = Date.now();
  for (let i = 0; i < 10_000; i++) logger.info("line", lineFields(i));
  const after = Date.now();
  await endLogger(logger);
  await peer.waitFor(10_000);

  assert.equal(peer.entries.length, 10_000);
  assert.equal(duplicates(peer.entries.map((e) => e.record.id as number)), 0);
  for (const entry of peer.entries) {
    assert.equal(entry.tag, "winston.app");
    const time = entry.time as { seconds: number; nanoseconds: number };
    assert.equal(time.nanoseconds % 1_000_000, 0, "milliseconds");
    const ms = time.seconds * 1000 + time.nanoseconds / 1_000_000;
    assert.ok(ms >= before && ms <= after, `time ${ms} within the logging`);
    assert.deepEqual(entry.record, {
      ...lineFields(entry.record.id as number),
      level: "info",
      message: "line",
    });
  }
  assert.deepEqual(seen.dropped, {});
  assert.deepEqual(seen.errors, []);
});

test("the winston tag comes from the tagKey field when it has one, and levels travel as numbers with levelAs: number", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = new ForwardTransport({
    port: peer.port,
    tagKey: "service",
    tagPrefix: "svc.",
    levelAs: "number",
  });
  const logger = winston.createLogger({ level: "debug", transports: [transport] });
  logger.info("a", { service: "billing" });
  logger.debug("b", { service: 42 });
  logger.error("c");
  await endLogger(logger);
  await peer.waitFor(3);
  const byMsg = Object.fromEntries(peer.entries.map((e) => [e.record.message, e]));
  assert.equal(byMsg.a?.tag, "svc.billing");
  assert.equal(
    byMsg.b?.tag,
    "svc.winston",
    "a tag field that is not a string falls back to tag (default winston)",
  );
  assert.equal(byMsg.c?.tag, "svc.winston");
  assert.deepEqual(
    peer.entries.map((e) => e.record.level),
    [2, 5, 0],
  );
});

test("logger.close() delivers what the winston transport holds and closes it", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = new ForwardTransport({ port: peer.port, tag: "close" });
  const logger = winston.createLogger({ transports: [transport] });
  for (let i = 0; i < 100; i++) logger.warn("bye", lineFields(i));
  const closed = once(transport, "closed") as Promise<[LoggerCloseSummary]>;
  logger.close();
  const [summary] = await closed;
  assert.deepEqual(summary, { undelivered: 0, kept: 0, dropped: 0, timedOut: false });
  await peer.waitFor(100);
  assert.equal(peer.entries.length, 100);
});

test("winston lines logged while the server is down arrive once it is back, and lines beyond the buffer are counted as dropped", async (t) => {
  const port = await freePort();
  const transport = new ForwardTransport({ port, ...OUTAGE_OPTIONS });
  const seen = watchTransport(transport);
  t.after(keepAlive());
  const logger = winston.createLogger({ transports: [transport] });
  for (let i = 0; i < OUTAGE_LINES; i++) logger.info("during the outage", lineFields(i));
  await seen.firstServerError;
  await seen.firstDrop;
  const peer = await startFluentServer({ listenOptions: { port, host: "127.0.0.1" } });
  t.after(() => peer.close());
  const closed = once(transport, "closed") as Promise<[LoggerCloseSummary]>;
  await endLogger(logger);
  const [summary] = await closed;

  await assertOutageAccounted(peer, seen);
  assert.deepEqual(summary, { undelivered: 0, kept: 0, dropped: seen.dropped.overflow, timedOut: false });
});

for (const [options, option] of [
  [{ port: 70_000 }, "port"],
  [{ tag: "" }, "tag"],
  [{ levelAs: "name" }, "levelAs"],
  [{ closeTimeoutMs: -1 }, "closeTimeoutMs"],
  [{ servers: [{ port: 1, colour: "red" }] }, "servers[0].colour"],
  [{ bogus: true }, "bogus"],
  [{ tls: { checkServerIdentity: () => undefined } }, "options"],
] as const) {
  test(`new ForwardTransport() with a bad ${option} throws INVALID_OPTION naming "${option}"`, () => {
    assert.throws(
      () => new ForwardTransport(options as never),
      (error: unknown) =>
        error instanceof InvalidOptionError && error.code === "INVALID_OPTION" && error.option === option,
    );
  });
}
