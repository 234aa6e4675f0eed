import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { ForwardSink, type ForwardSinkOptions } from "../../src/forward/index.js";
import { msUntil, TestClock, until } from "../helpers/fake-time.js";
import { emitIds, watch } from "../helpers/misbehaving-emit.js";
import {
  acceptNeverRead,
  answerGarbage,
  closeAfterHelo,
  forwardReceiver,
  heloNeverPong,
  readNeverAck,
  sendHugeFrame,
  type TestServer,
} from "../helpers/misbehaving-servers.js";
import type { ForwardReceiver } from "../helpers/forward-receiver.js";

const EVENTS = 20_000;
const FAST: ForwardSinkOptions = {
  requireAck: true,
  ackTimeoutMs: 300,
  connectTimeoutMs: 300,
  reconnect: { minDelayMs: 50, maxDelayMs: 400 },
};

/** A sink balancing over the bad server and a good one, both primaries with the same weight. */
async function badAndGood(
  t: TestContext,
  bad: TestServer,
  options: ForwardSinkOptions & { goodKey?: string } = {},
): Promise<{ sink: ForwardSink; good: ForwardReceiver; seen: ReturnType<typeof watch> }> {
  const { goodKey, ...sinkOptions } = options;
  const good = await forwardReceiver(goodKey ? { sharedKey: goodKey } : {});
  t.after(() => bad.close());
  t.after(() => good.close());
  const sink = new ForwardSink({
    ...FAST,
    ...sinkOptions,
    servers: [{ port: bad.port }, { port: good.port }],
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  return { sink, good, seen: watch(sink) };
}

/** Resolves at the first `serverError` with `code`. */
function serverErrorWith(sink: ForwardSink, code: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (err: Error & { code?: string }): void => {
      if (err.code !== code) return;
      sink.off("serverError", listener);
      resolve();
    };
    sink.on("serverError", listener);
  });
}

async function allArriveAtTheGoodServer(sink: ForwardSink, good: ForwardReceiver): Promise<void> {
  await emitIds(sink, 0, EVENTS);
  await sink.flush();
  assert.equal(good.unique, EVENTS, "every event arrived at the good server");
  // At least once: on a loaded machine the good server's ack can miss the short timeout too.
  assert.ok(good.duplicates <= sink.stats().retried, "only re-sent events arrive twice");
  const stats = sink.stats();
  assert.equal(stats.acked, EVENTS);
  assert.equal(stats.dropped, 0);
  assert.equal(stats.bufferedEvents, 0);
}

test("with acks, frames stuck on a server that accepts and never reads are re-sent to a healthy server after the ack timeout", async (t) => {
  const bad = await acceptNeverRead();
  const { sink, good, seen } = await badAndGood(t, bad);
  await allArriveAtTheGoodServer(sink, good);
  assert.ok(seen.codes.includes("FORWARD_ACK_TIMEOUT"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.ok(sink.stats().retried > 0);
  assert.deepEqual(seen.errors, []);
});

test("without acks, close() gives up on a server that never reads and reports exactly the events it could not deliver", async (t) => {
  const bad = await acceptNeverRead();
  t.after(() => bad.close());
  const sink = new ForwardSink({ port: bad.port, ackTimeoutMs: 200, reconnect: { minDelayMs: 50 } });
  const seen = watch(sink);
  const writeTimeout = once(sink, "serverError");
  // 30 MB: more than the kernel buffers of a loopback connection hold.
  await emitIds(sink, 0, 300_000, { ignoreBackpressure: true, every: 1000 });
  const [err] = (await writeTimeout) as [Error & { code: string }];
  assert.equal(err.code, "FORWARD_WRITE_TIMEOUT");
  const report = await sink.close({ timeoutMs: 200 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(report.delivered, false);
  assert.equal(report.timedOut, true);
  assert.equal(report.error?.code, "FORWARD_CLOSE_TIMEOUT");
  assert.ok(report.undeliveredEvents > 0);
  const stats = sink.stats();
  assert.equal(
    stats.accepted + stats.dropped - report.undeliveredEvents,
    300_000,
    "emitted or dropped, never both",
  );
  assert.equal(seen.dropped, stats.dropped, "every drop was reported by a drop event");
  assert.equal(bad.bytesRead, 0);
  assert.deepEqual(seen.errors, []);
});

test("with acks, a server that reads and never acks times out and its frames arrive at a healthy server", async (t) => {
  const bad = await readNeverAck();
  const { sink, good, seen } = await badAndGood(t, bad);
  await allArriveAtTheGoodServer(sink, good);
  assert.ok(bad.bytesRead > 0, "the bad server was sent frames");
  assert.ok(seen.codes.includes("FORWARD_ACK_TIMEOUT"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.deepEqual(seen.errors, []);
});

test("a server that answers garbage is disconnected with FORWARD_PROTOCOL_ERROR and its frames arrive at a healthy server", async (t) => {
  const bad = await answerGarbage();
  const { sink, good, seen } = await badAndGood(t, bad);
  await allArriveAtTheGoodServer(sink, good);
  assert.ok(bad.bytesRead > 0);
  assert.ok(seen.codes.includes("FORWARD_PROTOCOL_ERROR"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.deepEqual(seen.errors, []);
});

test("a huge frame from the server is refused with FORWARD_PROTOCOL_ERROR without being buffered, and events arrive at a healthy server", async (t) => {
  const bad = await sendHugeFrame();
  const rssBefore = process.memoryUsage().rss;
  const { sink, good, seen } = await badAndGood(t, bad);
  await allArriveAtTheGoodServer(sink, good);
  assert.ok(seen.codes.includes("FORWARD_PROTOCOL_ERROR"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.ok(bad.connections >= 1);
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMb < 128, `RSS grew by ${grownMb.toFixed(0)} MB while the server announced a 4 GiB frame`);
  assert.deepEqual(seen.errors, []);
});

test("a server that sends HELO and never PONG fails the handshake with FORWARD_HANDSHAKE_TIMEOUT and events arrive at a healthy server", async (t) => {
  const bad = await heloNeverPong();
  const { sink, good, seen } = await badAndGood(t, bad, { sharedKey: "k", goodKey: "k" });
  const timedOut = serverErrorWith(sink, "FORWARD_HANDSHAKE_TIMEOUT");
  await allArriveAtTheGoodServer(sink, good);
  await timedOut;
  assert.ok(bad.bytesRead > 0, "the bad server got a PING");
  assert.equal(
    sink.stats().servers[0]?.connects,
    0,
    "the server that never answered PONG never counted as connected",
  );
  assert.deepEqual(seen.errors, []);
});

test("a server that closes right after HELO is reported once and retried with backoff, not in a loop", async (t) => {
  const bad = await closeAfterHelo();
  t.after(() => bad.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: bad.port,
    sharedKey: "k",
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const seen = watch(sink);
  const server0 = () => sink.stats().servers[0]!;
  sink.send("faults.app", { id: 0 });
  await until(() => server0().state === "down", "the first failure");
  for (let attempt = 1; attempt <= 4; attempt++) {
    const delay = msUntil(server0().nextRetryAt);
    // Backoff from 100 ms, doubling, with jitter (50-100 % of the step).
    const step = Math.min(1000, 100 * 2 ** (attempt - 1));
    assert.ok(delay >= step / 2 - 2 && delay <= step, `attempt ${attempt} after ${delay} ms`);
    clock.tick(Math.max(0, delay - 1));
    assert.equal(bad.connections, attempt, `attempt ${attempt}: no connection before the backoff is over`);
    clock.tick(2);
    await until(() => server0().repeatedErrors === attempt, `attempt ${attempt} closed`);
  }
  assert.equal(bad.connections, 5);
  // Closing after our PING without a PONG is how Fluent Bit refuses a wrong shared key: reported as an auth failure.
  assert.deepEqual(seen.codes, ["FORWARD_AUTH_FAILED"], "one serverError for a failure that repeats");
  const server = server0();
  assert.equal(server.connects, 0);
  assert.equal(server.failures, 5);
  assert.equal(sink.stats().bufferedEvents, 1);
  assert.deepEqual(seen.errors, []);
});

test("with a healthy server beside it, events skip a server that closes right after HELO", async (t) => {
  const bad = await closeAfterHelo();
  const { sink, good, seen } = await badAndGood(t, bad, { sharedKey: "k", goodKey: "k" });
  await allArriveAtTheGoodServer(sink, good);
  assert.ok(seen.codes.includes("FORWARD_AUTH_FAILED"), `serverError codes: ${seen.codes.join(", ")}`);
  assert.deepEqual(seen.errors, []);
});

test("a server that accepts, then never acks, is one serverError for the whole fault, repeats counted, reconnects silent", async (t) => {
  const bad = await readNeverAck();
  t.after(() => bad.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: bad.port,
    requireAck: true,
    ackTimeoutMs: 50,
    reconnect: { minDelayMs: 10, maxDelayMs: 20 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const seen = watch(sink);
  let connects = 0;
  let disconnects = 0;
  sink.on("connect", () => connects++);
  sink.on("disconnect", () => disconnects++);
  const server0 = () => sink.stats().servers[0]!;
  sink.send("faults.app", { id: 0 });
  void sink.flush();
  for (let cycle = 0; cycle < 4; cycle++) {
    await until(() => server0().inFlightFrames === 1, `cycle ${cycle}: the frame is on the wire`);
    clock.tick(50);
    await until(() => server0().state === "down", `cycle ${cycle}: the ack timed out`);
    clock.tick(msUntil(server0().nextRetryAt) + 1);
  }
  assert.deepEqual(
    seen.codes,
    ["FORWARD_ACK_TIMEOUT"],
    "one report for a fault that repeats on every reconnect",
  );
  assert.equal(server0().repeatedErrors, 3);
  assert.ok(bad.connections >= 4, `${bad.connections} connections`);
  assert.equal(connects, 1, "the reconnects during the fault are not announced");
  assert.equal(disconnects, 1, "only the first disconnect, when the fault began");
  assert.equal(server0().fault, "FORWARD_ACK_TIMEOUT");
  assert.ok(server0().connects >= 4);
});
