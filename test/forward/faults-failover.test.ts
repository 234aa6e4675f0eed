import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink, type ServerInfo } from "../../src/forward/index.js";
import { emitIds, watch } from "../helpers/misbehaving-emit.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

const RECONNECT = { minDelayMs: 50, maxDelayMs: 200 };

/** Resolves when the sink connects to the server on `port`. */
function connectedTo(sink: ForwardSink, port: number): Promise<void> {
  return new Promise((resolve) => {
    const listener = (server: ServerInfo): void => {
      if (server.port !== port) return;
      sink.off("connect", listener);
      resolve();
    };
    sink.on("connect", listener);
  });
}

function ids(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

test("while the primary is down everything arrives at the standby, and traffic returns to the primary when it is back", async (t) => {
  const primary = await forwardReceiver();
  await primary.stop();
  const standby = await forwardReceiver();
  t.after(() => primary.close());
  t.after(() => standby.close());
  const sink = new ForwardSink({
    requireAck: true,
    reconnect: RECONNECT,
    servers: [{ port: primary.port }, { port: standby.port, standby: true }],
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const seen = watch(sink);

  await emitIds(sink, 0, 10_000);
  await sink.flush();
  assert.equal(standby.unique, 10_000, "everything arrived at the standby");
  assert.equal(standby.duplicates, 0);
  assert.equal(primary.connections, 0);
  assert.ok(seen.codes.includes("FORWARD_CONNECT_FAILED"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.ok(
    ["down", "connecting"].includes(sink.stats().servers[0]?.state ?? ""),
    "the primary is being re-probed",
  );

  const back = connectedTo(sink, primary.port);
  await primary.start();
  await back;
  await emitIds(sink, 10_000, 20_000);
  await sink.flush();
  assert.deepEqual(
    primary.events.map((e) => e.record.id),
    ids(10_000, 20_000),
    "every event after the primary came back went to it, in order",
  );
  assert.equal(standby.unique, 10_000, "the standby got nothing more");
  assert.equal(sink.stats().servers[0]?.state, "up");
  assert.equal(sink.stats().dropped, 0);
  assert.deepEqual(seen.errors, []);
});

test("with acks, frames in flight on a primary that dies are re-sent to the standby: the two together got every event", async (t) => {
  const primary = await forwardReceiver();
  const standby = await forwardReceiver();
  t.after(() => primary.close());
  t.after(() => standby.close());
  const sink = new ForwardSink({
    requireAck: true,
    reconnect: RECONNECT,
    servers: [{ port: primary.port }, { port: standby.port, standby: true }],
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const seen = watch(sink);

  const kill = (async () => {
    await primary.waitForUnique(20_000);
    primary.acking = false; // dies after taking a little more in without acking it
    await primary.waitForUnique(22_000);
    await primary.stop();
  })();
  await emitIds(sink, 0, 50_000);
  await kill;
  await sink.flush();

  const union = new Set([...primary.seen, ...standby.seen]);
  assert.equal(union.size, 50_000, "every event arrived at one server or the other");
  assert.ok(standby.unique > 0, "the standby took over");
  const duplicates = primary.events.length + standby.events.length - 50_000;
  assert.ok(duplicates <= sink.stats().retried, `${duplicates} duplicates, all from re-sent frames`);
  assert.equal(sink.stats().dropped, 0);
  assert.deepEqual(seen.errors, []);
});
