import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ForwardSink, EventTime, InvalidOptionError } from "../../src/index.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

test("options: defaults are applied and reported per server", async () => {
  const sink = new ForwardSink();
  const [server] = sink.stats().servers;
  assert.equal(server!.id, "127.0.0.1:24224");
  assert.equal(server!.weight, 60);
  assert.equal(server!.standby, false);
  assert.equal(server!.tls, false);
  assert.equal(server!.state, "idle");
  await sink.close({ timeoutMs: 10 });
});

const invalid: [string, unknown, string | RegExp][] = [
  [
    "unknown key",
    { hots: "x" },
    /Invalid option "hots": unknown option; known options are: host, port, path/,
  ],
  [
    "port out of range",
    { port: 70000 },
    'Invalid option "port": expected an integer from 1 to 65535, got 70000',
  ],
  [
    "mode",
    { mode: "Packed" },
    /Invalid option "mode": expected one of "PackedForward", "Message", "Forward", "CompressedPackedForward", got "Packed"/,
  ],
  [
    "overflow",
    { overflow: "drop" },
    /Invalid option "overflow": expected one of "block", "dropOldest", "dropNewest"/,
  ],
  ["tls", { tls: "yes" }, 'Invalid option "tls": expected true or an object of Node TLS options, got "yes"'],
  ["servers empty", { servers: [] }, /Invalid option "servers": expected a non-empty array/],
  [
    "servers with host",
    { servers: [{ port: 1 }], host: "x" },
    /Invalid option "host": cannot be combined with "servers"/,
  ],
  [
    "server weight",
    { servers: [{ weight: 0 }] },
    /Invalid option "servers\[0\]\.weight": expected an integer from 1/,
  ],
  ["server unknown key", { servers: [{ prot: 1 }] }, /Invalid option "servers\[0\]\.prot": unknown option/],
  ["only standbys", { servers: [{ standby: true }] }, /at least one server must not be a standby/],
  [
    "batch key",
    { batch: { maxEvent: 1 } },
    /Invalid option "batch\.maxEvent": unknown option; known options are: maxEvents, maxBytes, maxDelayMs/,
  ],
  [
    "batch bytes over limit",
    { bufferLimitBytes: 2048, batch: { maxBytes: 4096 } },
    /"batch\.maxBytes": expected an integer from 1 to 2048/,
  ],
  [
    "reconnect order",
    { reconnect: { minDelayMs: 100, maxDelayMs: 50 } },
    /"reconnect\.maxDelayMs": expected an integer from 100/,
  ],
  [
    "requireAck type",
    { requireAck: "yes" },
    'Invalid option "requireAck": expected true or false, got "yes"',
  ],
  ["sharedKey type", { sharedKey: 5 }, 'Invalid option "sharedKey": expected a non-empty string, got 5'],
];
for (const [what, options, message] of invalid) {
  test(`options: rejects ${what} with a message naming the option`, () => {
    assert.throws(
      () => new ForwardSink(options as never),
      (err: unknown) => {
        assert.ok(err instanceof InvalidOptionError);
        assert.equal(err.code, "INVALID_OPTION");
        if (typeof message === "string") assert.equal(err.message, message);
        else assert.match(err.message, message);
        return true;
      },
    );
  });
}

test("emit() rejects a bad time or an empty tag with FORWARD_INVALID_RECORD, synchronously", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  assert.throws(() => sink.emit("t", { a: 1 }, -5), { code: "FORWARD_INVALID_RECORD" });
  assert.throws(() => sink.emit("t", { a: 1 }, new Date(NaN)), { code: "FORWARD_INVALID_RECORD" });
  assert.throws(() => sink.emit("t", { a: 1 }, { seconds: 1.5, nanoseconds: 0 }), {
    code: "FORWARD_INVALID_RECORD",
  });
  assert.throws(() => sink.emit("", { a: 1 }), { code: "FORWARD_INVALID_RECORD" });
  assert.equal(sink.stats().emitted, 0);
  await sink.close({ timeoutMs: 10 });
});

test("emit() with anything but (string tag, plain object) is EventEmitter's emit", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  const seen: unknown[] = [];
  sink.on("custom", (...args) => seen.push(args));
  assert.equal(sink.emit("custom", 42), true);
  assert.equal(sink.emit("custom", new Map()), true);
  assert.equal(sink.emit("nobody-listens"), false);
  assert.deepEqual(seen, [[42], [new Map()]]);
  assert.equal(sink.stats().emitted, 0);
  assert.equal(sink.emit("t", Object.create(null) as Record<string, unknown>), true);
  assert.equal(sink.stats().emitted, 1);
  await sink.close({ timeoutMs: 10 });
});

test("pipeline(source, sink) delivers every item and finishes once they are written", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true });
  const items = Array.from({ length: 300 }, (_, i) => ({
    tag: `p.${i % 2}`,
    record: { i },
    time: new EventTime(1_700_000_000 + i, i),
  }));
  await pipeline(Readable.from(items), sink);
  assert.equal(receiver.events.length, 300);
  const first = receiver.events.find((e) => e.record.i === 7)!;
  assert.equal(first.tag, "p.1");
  assert.deepEqual(first.time, new EventTime(1_700_000_007, 7));
  assert.equal(sink.destroyed, true);
});

test("a malformed item written through the Writable interface is a stream error", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  sink.write({ tag: "", record: {} });
  const [err] = await once(sink, "error");
  assert.equal(err.code, "FORWARD_INVALID_RECORD");
  await sink.close({ timeoutMs: 10 });
});

test("connection failures go to serverError and never to error: an app without listeners does not crash", async () => {
  const sink = new ForwardSink({ port: await freePort(), reconnect: { minDelayMs: 5000 } });
  sink.emit("t", { a: 1 });
  const [err, server] = await once(sink, "serverError");
  assert.equal(err.code, "FORWARD_CONNECT_FAILED");
  assert.equal(server.state, undefined);
  assert.equal(sink.stats().servers[0]!.state, "down");
  assert.equal(sink.stats().servers[0]!.lastError?.code, "FORWARD_CONNECT_FAILED");
  assert.ok(sink.stats().servers[0]!.nextRetryAt instanceof Date);
  await sink.close({ timeoutMs: 10 });
});

test("flush() resolves at once when nothing is pending and emits flush", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  let flushes = 0;
  sink.on("flush", () => flushes++);
  await sink.flush();
  assert.equal(flushes, 1);
  await sink.close({ timeoutMs: 10 });
});

test("stats() counts emitted, sent and acked events and reports ack latency per server", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true, batch: { maxEvents: 10 } });
  t.after(() => sink.close({ timeoutMs: 100 }));
  for (let i = 0; i < 100; i++) sink.emit("s", { i });
  await sink.flush();
  const stats = sink.stats();
  assert.deepEqual(
    [
      stats.emitted,
      stats.sent,
      stats.acked,
      stats.retried,
      stats.dropped,
      stats.bufferedBytes,
      stats.bufferedFrames,
    ],
    [100, 100, 100, 0, 0, 0, 0],
  );
  const server = stats.servers[0]!;
  assert.equal(server.state, "up");
  assert.equal(server.connects, 1);
  assert.equal(server.sentFrames, 10);
  assert.equal(server.settledFrames, 10);
  assert.ok(
    server.ackLatencyMs && server.ackLatencyMs.p50 >= 0 && server.ackLatencyMs.p99 >= server.ackLatencyMs.p50,
  );
});

test("close() rejects a negative timeout with INVALID_OPTION", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  await assert.rejects(sink.close({ timeoutMs: -1 }), { code: "INVALID_OPTION", message: /"timeoutMs"/ });
  await sink.close({ timeoutMs: 10 });
});
