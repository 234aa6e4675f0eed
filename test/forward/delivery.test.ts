import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import path from "node:path";
import { Packr } from "msgpackr";
import { ForwardSink, type ForwardError } from "../../src/forward/index.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";
import { startFluentServer } from "../helpers/forward-fluent.js";
import { until } from "../helpers/fake-time.js";
import { cliTempDir } from "../helpers/cli-temp.js";

function seqs(receiver: ForwardReceiver): number[] {
  return receiver.events.map((e) => e.record.seq as number);
}

test("re-sends un-acked frames after the server drops the connection mid-stream: every event arrives", async (t) => {
  let cuts = 0;
  const receiver = await ForwardReceiver.start({
    // Cut the first two connections at their 5th frame, before acking it.
    onFrame: (_frame, n) => (n === 5 && cuts < 2 ? (cuts++, "drop-connection") : "accept"),
  });
  t.after(() => receiver.close());
  const sink = new ForwardSink({
    port: receiver.port,
    requireAck: true,
    batch: { maxEvents: 50 },
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
  });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const disconnects: unknown[] = [];
  sink.on("disconnect", (server, reason) => disconnects.push(reason));
  const total = 5000;
  for (let seq = 0; seq < total; seq++) sink.send("cut.tag", { seq });
  await sink.flush();
  assert.equal(cuts, 2);
  assert.equal(disconnects.length, 2);
  // The receiver keeps only frames it acked, as a server that commits before acking.
  const got = seqs(receiver).sort((a, b) => a - b);
  assert.equal(got.length, total);
  assert.deepEqual(
    got,
    Array.from({ length: total }, (_, i) => i),
  );
  const stats = sink.stats();
  assert.equal(stats.acked, total);
  assert.ok(stats.retried >= 100, `retried ${stats.retried}`);
  assert.equal(stats.bufferedEvents, 0);
});

test("an ack timeout closes the connection and re-sends the frame on a fresh one", async (t) => {
  const receiver = await ForwardReceiver.start({
    // The first connection swallows frames without acking them.
    onFrame: () => (receiver.connections === 1 ? "ignore" : "accept"),
  });
  t.after(() => receiver.close());
  const sink = new ForwardSink({
    port: receiver.port,
    requireAck: true,
    ackTimeoutMs: 100,
    reconnect: { minDelayMs: 10, maxDelayMs: 20 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const errors: ForwardError[] = [];
  sink.on("serverError", (e) => errors.push(e));
  for (let seq = 0; seq < 10; seq++) sink.send("slow.tag", { seq });
  await sink.flush();
  assert.deepEqual(seqs(receiver), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(
    errors.map((e) => e.code),
    ["FORWARD_ACK_TIMEOUT"],
  );
  assert.equal(sink.stats().retried, 10);
  assert.equal(receiver.connections, 2);
});

test("delivers over a unix socket", async (t) => {
  const socketPath = path.join(cliTempDir(t), "fluent.sock");
  const peer = await startFluentServer({ listenOptions: { path: socketPath } });
  t.after(() => peer.close());
  const sink = new ForwardSink({ path: socketPath, mode: "Forward" });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const [connected] = await Promise.all([
    once(sink, "connect"),
    sink.send("unix.tag", { via: "unix" }, 1_700_000_003_000),
  ]);
  assert.equal(connected[0].id, socketPath);
  assert.equal(connected[0].path, socketPath);
  await sink.flush();
  await peer.waitFor(1);
  assert.deepEqual(peer.entries, [
    { tag: "unix.tag", time: { seconds: 1_700_000_003, nanoseconds: 0 }, record: { via: "unix" } },
  ]);
});

test("requiring acks from a unix socket that never acks gives one FORWARD_ACK_UNSUPPORTED, not endless re-sends", async (t) => {
  const socketPath = path.join(cliTempDir(t), "in_unix.sock");
  const receiver = await ForwardReceiver.start({ path: socketPath, ack: false });
  t.after(() => receiver.close());
  const sink = new ForwardSink({
    path: socketPath,
    requireAck: true,
    ackTimeoutMs: 100,
    reconnect: { minDelayMs: 10, maxDelayMs: 20 },
  });
  t.after(() => sink.close({ timeoutMs: 50 }));
  const errors: ForwardError[] = [];
  sink.on("serverError", (e) => errors.push(e));
  sink.send("unix.tag", { a: 1 });
  await until(() => sink.stats().servers[0]!.state === "failed", "the server taken out of rotation");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, "FORWARD_ACK_UNSUPPORTED");
  assert.match(errors[0]!.message, /requireAck: false/);
  assert.equal(receiver.connections, 1);
  const server = sink.stats().servers[0]!;
  assert.equal(server.state, "failed");
  assert.equal(server.sentFrames, 1);
  const report = await sink.close({ timeoutMs: 50 });
  assert.deepEqual(
    { delivered: report.delivered, undeliveredEvents: report.undeliveredEvents, code: report.error?.code },
    { delivered: false, undeliveredEvents: 1, code: "FORWARD_CLOSE_TIMEOUT" },
  );
});

/** A server with `<security>` and `deny_keepalive`: HELO says keepalive false, and it closes after acking each frame. */
async function startNoKeepaliveServer() {
  const packr = new Packr({ useRecords: false });
  const { ReplyDecoder } = await import("../../src/forward/protocol/reply-decoder.js");
  const { createHash } = await import("node:crypto");
  const state = { sizes: [] as number[], connections: 0, port: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    socket.on("error", () => {});
    const nonce = Buffer.alloc(16, 7);
    socket.write(packr.pack(["HELO", { nonce, auth: "", keepalive: false }]));
    const decoder = new ReplyDecoder(1 << 20);
    let authed = false;
    socket.on("data", (chunk) => {
      for (const value of decoder.push(chunk)) {
        const arr = value as (Buffer | Map<string, unknown>)[];
        if (!authed) {
          authed = true;
          const salt = (arr[2] as Buffer).toString();
          const digest = createHash("sha512")
            .update(salt)
            .update("srv")
            .update(nonce)
            .update("k")
            .digest("hex");
          socket.write(packr.pack(["PONG", true, "", "srv", digest]));
          continue;
        }
        const option = arr[2] as Map<string, Buffer>;
        state.sizes.push(option.get("size") as unknown as number);
        socket.end(packr.pack({ ack: option.get("chunk")!.toString() }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return { state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test("honours keepalive: false from HELO with one frame per connection", async (t) => {
  const { state, close } = await startNoKeepaliveServer();
  t.after(close);
  const sink = new ForwardSink({
    port: state.port,
    sharedKey: "k",
    requireAck: true,
    batch: { maxEvents: 10 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  const errors: ForwardError[] = [];
  sink.on("serverError", (e) => errors.push(e));
  let connects = 0;
  let disconnects = 0;
  sink.on("connect", () => connects++);
  sink.on("disconnect", () => disconnects++);
  for (let i = 0; i < 50; i++) sink.send("ka.tag", { i });
  await sink.flush();
  assert.deepEqual(state.sizes, [10, 10, 10, 10, 10]);
  assert.equal(state.connections, 5);
  assert.deepEqual(errors, []);
  // The server's expected close after each frame is not reported as a disconnect.
  assert.deepEqual([connects, disconnects], [1, 0]);
  assert.equal(sink.stats().servers[0]!.connects, 5);
  assert.equal(sink.stats().retried, 0);
});

test("a keepalive: false primary between two frames is still healthy: the standby gets nothing", async (t) => {
  const { state, close } = await startNoKeepaliveServer();
  t.after(close);
  const standby = await ForwardReceiver.start();
  t.after(() => standby.close());
  const sink = new ForwardSink({
    servers: [{ port: state.port }, { port: standby.port, standby: true }],
    sharedKey: "k",
    requireAck: true,
    batch: { maxEvents: 5 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  for (let i = 0; i < 40; i++) sink.send("ka.tag", { i });
  await sink.flush();
  assert.equal(
    state.sizes.reduce((a, b) => a + b, 0),
    40,
  );
  assert.equal(standby.connections, 0);
});

test("weighted balancing splits frames between healthy primaries by weight", async (t) => {
  const a = await ForwardReceiver.start();
  const b = await ForwardReceiver.start();
  t.after(() => Promise.all([a.close(), b.close()]));
  const sink = new ForwardSink({
    servers: [
      { port: a.port, weight: 1 },
      { port: b.port, weight: 3 },
    ],
    batch: { maxEvents: 1 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  let connects = 0;
  const both = new Promise<void>((resolve) => sink.on("connect", () => ++connects === 2 && resolve()));
  sink.send("w.tag", { warmup: true });
  await both;
  await sink.flush();
  a.events.length = 0;
  b.events.length = 0;
  for (let i = 0; i < 400; i++) sink.send("w.tag", { i });
  await sink.flush();
  await Promise.all([a.waitForEvents(1), b.waitForEvents(1)]);
  while (a.events.length + b.events.length < 400) await new Promise((r) => setImmediate(r));
  assert.ok(Math.abs(a.events.length - 100) <= 1, `a got ${a.events.length}`);
  assert.ok(Math.abs(b.events.length - 300) <= 1, `b got ${b.events.length}`);
});

test("a standby takes all traffic while the primary is down and hands it back when the primary returns", async (t) => {
  const primaryPort = await freePort();
  const standby = await ForwardReceiver.start();
  t.after(() => standby.close());
  const sink = new ForwardSink({
    servers: [{ port: primaryPort }, { port: standby.port, standby: true }],
    requireAck: true,
    reconnect: { minDelayMs: 20, maxDelayMs: 50 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  for (let seq = 0; seq < 100; seq++) sink.send("sb.tag", { seq });
  await sink.flush();
  assert.deepEqual(
    seqs(standby),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.match(sink.stats().servers[0]!.state, /^(down|connecting)$/, "the primary is being re-probed");

  const primary = await ForwardReceiver.start({ port: primaryPort });
  t.after(() => primary.close());
  const [server] = await once(sink, "connect");
  assert.equal(server.port, primaryPort);
  for (let seq = 100; seq < 200; seq++) sink.send("sb.tag", { seq });
  await sink.flush();
  assert.deepEqual(
    seqs(primary),
    Array.from({ length: 100 }, (_, i) => 100 + i),
  );
  assert.equal(standby.events.length, 100);
});

test("frames in flight on a failing primary are re-sent to the other healthy server", async (t) => {
  const healthy = await ForwardReceiver.start();
  const flaky = await ForwardReceiver.start({ onFrame: () => "drop-connection" });
  t.after(() => Promise.all([healthy.close(), flaky.close()]));
  const sink = new ForwardSink({
    servers: [{ port: flaky.port }, { port: healthy.port }],
    requireAck: true,
    batch: { maxEvents: 10 },
    reconnect: { minDelayMs: 5000 },
  });
  t.after(() => sink.close({ timeoutMs: 500 }));
  for (let seq = 0; seq < 1000; seq++) sink.send("fo.tag", { seq });
  await sink.flush();
  assert.deepEqual(
    seqs(healthy).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(sink.stats().servers[0]!.state, "down");
});
