import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { Unpackr } from "msgpackr";
import winston from "winston";
import { ForwardSink, InvalidOptionError } from "uwsgi-forward";
import { ForwardTransport, type LoggerCloseSummary } from "uwsgi-forward/winston";
import { startFluentServer } from "../helpers/forward-fluent.js";
import { freePort } from "../helpers/forward-receiver.js";
import { FrameSplitter, msgpackEnd } from "../helpers/misbehaving-msgpack.js";
import {
  assertOutageAccounted,
  duplicates,
  keepAlive,
  lineFields,
  OUTAGE_LINES,
  OUTAGE_OPTIONS,
  watchTransport,
} from "../helpers/logger-events.js";

/**
 * A Forward input that keeps each event's record as the bytes it arrived as (PackedForward, no acks): what the test
 * compares, since a decoder would blur int64 and a small int. `records()` decodes them keeping their types.
 */
async function startRawInput(t: { after: (fn: () => Promise<void>) => void }): Promise<{
  port: number;
  raw: Buffer[];
  waitFor(n: number): Promise<void>;
  records(): Record<string, unknown>[];
}> {
  const raw: Buffer[] = [];
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
  let arrived = (): void => {};
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const splitter = new FrameSplitter();
    socket.on("data", (chunk: Buffer) =>
      splitter.push(chunk, (frame) => {
        // [tag, entries (bin), option]: each entry is [time, record].
        const entries = (unpackr.unpack(frame) as [string, Buffer])[1];
        for (let pos = 0; pos < entries.length;) {
          const end = msgpackEnd(entries, pos);
          raw.push(Buffer.from(entries.subarray(msgpackEnd(entries, pos + 1), end)));
          pos = end;
        }
        arrived();
      }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, "close");
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    raw,
    waitFor: (n) =>
      new Promise((resolve) => {
        arrived = () => {
          if (raw.length >= n) resolve();
        };
        arrived();
      }),
    records: () => raw.map((bytes) => unpackr.unpack(bytes) as Record<string, unknown>),
  };
}

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

test("a winston record with a Buffer, bigints, a Date and nested objects arrives as the bytes a ForwardSink in the main thread sends for it, the Date as its ISO string", async (t) => {
  const meta = (at: unknown): Record<string, unknown> => ({
    id: 1,
    payload: Buffer.from([0, 0xc1, 0xff]),
    small: 5n,
    huge: 2n ** 63n + 7n,
    at,
    request: { headers: { "x-id": "a" }, body: Buffer.from("{}"), sizes: [1n, -3, 1.5] },
    missing: undefined,
  });
  const viaWinston = await startRawInput(t);
  const direct = await startRawInput(t);
  const transport = new ForwardTransport({ port: viaWinston.port, tag: "types" });
  const seen = watchTransport(transport);
  const logger = winston.createLogger({ transports: [transport] });
  logger.info("typed", meta(new Date(1_700_000_000_123)));
  await endLogger(logger);
  assert.deepEqual(seen.dropped, {});
  await viaWinston.waitFor(1);
  const sink = new ForwardSink({ port: direct.port });
  sink.send("types", { ...meta("2023-11-14T22:13:20.123Z"), level: "info", message: "typed" });
  await sink.close();
  await direct.waitFor(1);

  assert.equal(viaWinston.raw[0]!.toString("hex"), direct.raw[0]!.toString("hex"));
  const [record] = viaWinston.records();
  assert.ok(Buffer.isBuffer(record!.payload), "msgpack bin");
  assert.deepEqual([...(record!.payload as Buffer)], [0, 0xc1, 0xff]);
  assert.equal(record!.small, 5n, "int64");
  assert.equal(record!.huge, 2n ** 63n + 7n, "uint64");
  assert.equal(record!.at, "2023-11-14T22:13:20.123Z", "not msgpack's timestamp, which Fluentd refuses");
  assert.deepEqual(record!.request, {
    headers: { "x-id": "a" },
    body: Buffer.from("{}"),
    sizes: [1n, -3, 1.5],
  });
});

test("a winston record msgpack cannot encode (a cycle) is dropped with reason invalid on the main thread; the others arrive", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = new ForwardTransport({ port: peer.port, tag: "cycle" });
  const seen = watchTransport(transport);
  const logger = winston.createLogger({ transports: [transport] });
  const cyclic: Record<string, unknown> = { id: 1 };
  cyclic.self = { cyclic: new Map([["back", cyclic]]) };
  logger.info("a", { id: 0 });
  logger.info("b", cyclic);
  logger.info("c", { id: 2 });
  await endLogger(logger);
  await peer.waitFor(2);
  assert.deepEqual(
    peer.entries.map((e) => e.record.id),
    [0, 2],
  );
  assert.deepEqual(seen.dropped, { invalid: 1 });
});

test("logger.end() with the server down finishes at closeTimeoutMs without holding the main thread, and reports the loss", async (t) => {
  const port = await freePort();
  const transport = new ForwardTransport({
    port,
    closeTimeoutMs: 500,
    reconnect: { minDelayMs: 20, maxDelayMs: 50 },
  });
  const seen = watchTransport(transport);
  t.after(keepAlive());
  const logger = winston.createLogger({ transports: [transport] });
  for (let i = 0; i < 10; i++) logger.info("lost", lineFields(i));
  await seen.firstServerError;
  const closed = once(transport, "closed") as Promise<[LoggerCloseSummary]>;
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 20);
  const started = Date.now();
  await endLogger(logger);
  const tookMs = Date.now() - started;
  clearInterval(ticker);
  const [summary] = await closed;
  assert.deepEqual(summary, { undelivered: 10, kept: 0, dropped: 10, timedOut: true });
  assert.ok(tookMs >= 450 && tookMs < 5000, `finished after ${tookMs} ms`);
  assert.ok(ticks >= 10, `the main thread ran ${ticks} timer ticks during the close`);
  assert.deepEqual(seen.dropped, { undelivered: 10 });
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
