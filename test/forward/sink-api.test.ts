import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ForwardSink, EventTime, InvalidOptionError, type EventRecord } from "../../src/index.js";
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
  [
    "tls",
    { tls: "yes" },
    'Invalid option "tls": expected true, an object of Node TLS options, or tlsFiles({ caFile, certFile, keyFile }), got "yes"',
  ],
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
    "maxInFlightBytes",
    { maxInFlightBytes: 0 },
    'Invalid option "maxInFlightBytes": expected an integer >= 1, got 0',
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
  [
    "compressionLevel out of range",
    { mode: "CompressedPackedForward", compressionLevel: 0 },
    'Invalid option "compressionLevel": expected an integer from 1 to 9, got 0',
  ],
  [
    "compressionLevel not an integer",
    { mode: "CompressedPackedForward", compressionLevel: 6.5 },
    'Invalid option "compressionLevel": expected an integer from 1 to 9, got 6.5',
  ],
  [
    "compressionLevel without compression",
    { compressionLevel: 6 },
    /"compressionLevel": applies to mode "CompressedPackedForward" only \(mode is "PackedForward"\)/,
  ],
  [
    "a clock without every method of Clock",
    { clock: { now: () => 0, setTimeout: () => ({}) } },
    /^Invalid option "clock": expected a Clock, an object with now\(\), setTimeout\(fn, ms\), clearTimeout\(timer\) and random\(\), got /,
  ],
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

test("send() rejects a bad time or an empty tag synchronously, with a typed error", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  assert.throws(() => sink.send("t", { a: 1 }, -5), { code: "FORWARD_INVALID_TIME" });
  assert.throws(() => sink.send("t", { a: 1 }, new Date(NaN)), { code: "FORWARD_INVALID_TIME" });
  assert.throws(() => sink.send("t", { a: 1 }, { seconds: 1.5, nanoseconds: 0 }), {
    code: "FORWARD_INVALID_TIME",
  });
  assert.throws(() => sink.send("", { a: 1 }), {
    code: "FORWARD_INVALID_RECORD",
    message: /non-empty string/,
  });
  assert.throws(() => sink.send(42 as unknown as string, { a: 1 }), { code: "FORWARD_INVALID_RECORD" });
  assert.equal(sink.stats().accepted, 0);
  await sink.close({ timeoutMs: 10 });
});

class Access {
  path = "/";
  status = 200;
}

test("send() refuses a class instance, a string, an array and null as the record, naming what to pass instead", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  assert.throws(() => sink.send("app.x", new Access() as unknown as EventRecord), {
    code: "FORWARD_INVALID_RECORD",
    message: /got an instance of Access: pass a plain object: \{ \.\.\.record \}/,
  });
  assert.throws(() => sink.send("app.x", "hello" as unknown as EventRecord), {
    code: "FORWARD_INVALID_RECORD",
    message: /record must be a plain object, got a string/,
  });
  assert.throws(() => sink.send("app.x", [1, 2] as unknown as EventRecord), {
    code: "FORWARD_INVALID_RECORD",
    message: /got an array/,
  });
  assert.throws(() => sink.send("app.x", null as unknown as EventRecord), { code: "FORWARD_INVALID_RECORD" });
  assert.equal(sink.send("app.x", { ...new Access() }), true, "its own fields, spread, are sent");
  assert.equal(sink.send("t", Object.create(null) as EventRecord), true, "a null-prototype object is plain");
  assert.equal(sink.stats().accepted, 2);
  await sink.close({ timeoutMs: 10 });
});

test("send() with a fluent-logger style callback throws FORWARD_INVALID_CALL instead of dropping the event", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  const send = sink.send.bind(sink) as (...args: unknown[]) => boolean;
  assert.throws(() => send("app.x", { a: 1 }, Date.now(), () => {}), {
    code: "FORWARD_INVALID_CALL",
    message: /takes no callback/,
  });
  assert.throws(() => send("app.x", { a: 1 }, () => {}), {
    code: "FORWARD_INVALID_TIME",
    message: /send\(\) takes no callback/,
  });
  assert.equal(sink.stats().accepted, 0);
  await sink.close({ timeoutMs: 10 });
});

test("emit() is EventEmitter's only: emit(tag, record) throws FORWARD_INVALID_CALL, emit('close', record) sends nothing", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  const emit = sink.emit.bind(sink) as (...args: unknown[]) => boolean;
  assert.throws(() => emit("app.x", { a: 1 }), {
    code: "FORWARD_INVALID_CALL",
    message: /"app\.x" is not an event of ForwardSink: .* call sink\.send\(tag, record, time\?\)/,
  });
  let flushes = 0;
  sink.on("flush", () => flushes++);
  assert.equal(sink.emit("flush"), true);
  assert.equal(flushes, 1);
  emit("drop", { count: 1, reason: "overflow" });
  assert.equal(sink.stats().accepted, 0, "nothing was sent");
  await sink.close({ timeoutMs: 10 });
});

test("a number time is epoch milliseconds: a time in seconds is refused with a hint", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  const seconds = Math.floor(Date.now() / 1000);
  assert.throws(() => sink.send("t", { a: 1 }, seconds), {
    code: "FORWARD_INVALID_TIME",
    message: /looks like seconds: multiply by 1000, or pass an EventTime/,
  });
  assert.throws(() => sink.send("t", { a: 1 }, 0), { message: /looks like seconds/ });
  assert.throws(() => sink.send("t", { a: 1 }, 99_999_999_999), { message: /looks like seconds/ });
  assert.equal(
    sink.send("t", { a: 1 }, 100_000_000_000),
    true,
    "1973-03-03 is the first accepted millisecond",
  );
  assert.throws(() => sink.send("t", { a: 1 }, 1_700_000_000n), {
    code: "FORWARD_INVALID_TIME",
    message: /looks like milliseconds or seconds, not nanoseconds/,
  });
  assert.throws(() => sink.send("t", { a: 1 }, 2n ** 64n), { code: "FORWARD_INVALID_TIME" });
  await sink.close({ timeoutMs: 10 });
});

test("a bigint time is epoch nanoseconds and arrives to the nanosecond", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port });
  sink.send("ns.tag", { a: 1 }, 1_700_000_000_123_456_789n);
  await sink.flush();
  await receiver.waitForEvents(1);
  assert.deepEqual(receiver.events[0]!.time, { seconds: 1_700_000_000, nanoseconds: 123_456_789 });
  assert.deepEqual(EventTime.from(1_700_000_000_123_456_789n), new EventTime(1_700_000_000, 123_456_789));
  await sink.close({ timeoutMs: 100 });
});

test("listeners are typed by ForwardSinkEvents: a misspelt event name does not compile", async () => {
  const sink = new ForwardSink({ port: await freePort() });
  sink.on("serverError", (err, server) => {
    const code: string = err.code;
    const id: string = server.id;
    void [code, id];
  });
  // @ts-expect-error "serverErorr" is not an event of ForwardSink
  sink.on("serverErorr", () => {});
  // @ts-expect-error an ack listener takes AckInfo, not a string
  sink.on("ack", (info: string) => void info);
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
  assert.deepEqual(first.time, { seconds: 1_700_000_007, nanoseconds: 7 });
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
  sink.send("t", { a: 1 });
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

test("stats() counts accepted, sent and acked events and reports ack latency per server", async (t) => {
  const receiver = await ForwardReceiver.start();
  t.after(() => receiver.close());
  const sink = new ForwardSink({ port: receiver.port, requireAck: true, batch: { maxEvents: 10 } });
  t.after(() => sink.close({ timeoutMs: 100 }));
  for (let i = 0; i < 100; i++) sink.send("s", { i });
  await sink.flush();
  const stats = sink.stats();
  assert.deepEqual(
    [
      stats.accepted,
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
