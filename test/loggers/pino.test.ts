import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import pino from "pino";
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

/** pino resolves the target from this file, through the package's own exports (the built dist). */
const TARGET = "uwsgi-forward/pino";
const BASE_MS = 1_700_000_000_000;

type Transport = ReturnType<typeof pino.transport>;

/** Ends the transport as pino does at exit, and resolves once its worker is gone. */
async function endTransport(transport: Transport): Promise<void> {
  const closed = once(transport, "close");
  transport.end();
  await closed;
}

test("10,000 pino lines reach a FluentServer exactly once, with the tag, pino's time in ms and every field", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = pino.transport({
    target: TARGET,
    options: { port: peer.port, tag: "app", tagPrefix: "pino." },
  });
  const seen = watchTransport(transport);
  let now = BASE_MS;
  // Time `BASE_MS + i` for line i, so each event's time can be checked to the millisecond.
  const logger = pino({ timestamp: () => `,"time":${now}` }, transport);
  for (let i = 0; i < 10_000; i++) {
    now = BASE_MS + i;
    logger.info(lineFields(i), "line");
  }
  await peer.waitFor(10_000);
  await endTransport(transport);

  assert.equal(peer.entries.length, 10_000);
  assert.equal(duplicates(peer.entries.map((e) => e.record.id as number)), 0);
  for (const entry of peer.entries) {
    const i = entry.record.id as number;
    assert.equal(entry.tag, "pino.app");
    const ms = BASE_MS + i;
    assert.deepEqual(entry.time, { seconds: Math.floor(ms / 1000), nanoseconds: (ms % 1000) * 1_000_000 });
    assert.deepEqual(entry.record, {
      level: 30,
      pid: process.pid,
      hostname: entry.record.hostname,
      ...lineFields(i),
      msg: "line",
    });
  }
  assert.deepEqual(seen.dropped, {});
  assert.deepEqual(seen.errors, []);
});

test("the pino tag comes from the tagKey field when it has one, and levels travel as labels with levelAs: label", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const transport = pino.transport({
    target: TARGET,
    options: { port: peer.port, tag: "other", tagKey: "service", tagPrefix: "svc.", levelAs: "label" },
  });
  const logger = pino({ customLevels: { audit: 35 } }, transport);
  logger.info({ service: "billing" }, "a");
  logger.audit({ service: "" }, "b");
  logger.warn("c");
  await peer.waitFor(3);
  await endTransport(transport);
  const byMsg = Object.fromEntries(peer.entries.map((e) => [e.record.msg, e]));
  assert.equal(byMsg.a?.tag, "svc.billing");
  assert.equal(byMsg.a?.record.service, "billing", "the tag field stays in the record");
  assert.equal(byMsg.b?.tag, "svc.other", "an empty tag field falls back to tag");
  assert.equal(byMsg.c?.tag, "svc.other");
  assert.deepEqual(
    peer.entries.map((e) => e.record.level),
    ["info", "audit", "warn"],
  );
});

test("pino lines logged while the server is down arrive once it is back, and lines beyond the buffer are counted as dropped", async (t) => {
  const port = await freePort();
  const transport = pino.transport({ target: TARGET, options: { port, ...OUTAGE_OPTIONS } });
  const seen = watchTransport(transport);
  t.after(keepAlive());
  const logger = pino(transport);
  for (let i = 0; i < OUTAGE_LINES; i++) logger.info(lineFields(i), "during the outage");
  await seen.firstServerError;
  await seen.firstDrop;
  const peer = await startFluentServer({ listenOptions: { port, host: "127.0.0.1" } });
  t.after(() => peer.close());
  await endTransport(transport);

  assertOutageAccounted(
    peer.entries.map((e) => e.record.id as number),
    seen,
  );
  assert.equal(seen.dropped.closed, undefined, "nothing was left undelivered at close");
});

for (const [options, option] of [
  [{ port: 70_000 }, "port"],
  [{ tag: "" }, "tag"],
  [{ levelAs: "name" }, "levelAs"],
  [{ closeTimeoutMs: 60_000 }, "closeTimeoutMs"],
  [{ servers: [{ port: 1, colour: "red" }] }, "servers[0].colour"],
  [{ bogus: true }, "bogus"],
] as const) {
  test(`a pino transport with a bad ${option} fails at start with an error naming "${option}"`, async () => {
    const transport = pino.transport({ target: TARGET, options });
    const [error] = (await once(transport, "error")) as [Error];
    assert.match(error.message, new RegExp(`^Invalid option "${option.replace(/[[\]]/g, "\\$&")}"`));
  });
}
