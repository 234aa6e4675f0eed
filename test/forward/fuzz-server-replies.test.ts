import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as yieldToIo } from "node:timers/promises";
import type net from "node:net";
import { pack } from "msgpackr";
import {
  ForwardErrorCode,
  ForwardSink,
  type ForwardSinkOptions,
  type SinkStats,
} from "../../src/forward/index.js";
import { fuzzCases, type Rng } from "../helpers/fuzz.js";
import { FrameSplitter, unpackr } from "../helpers/misbehaving-msgpack.js";
import { heloFrame } from "../helpers/forward-receiver.js";
import { answerWith } from "../helpers/misbehaving-servers.js";

// A seeded fuzzer over what a Forward server answers: random bytes, msgpack values of every kind where an ack, a
// HELO or a PONG belongs (wrong types, unknown chunk ids, huge claimed lengths), right acks, closes, silences,
// chosen anew on every connection, against a sink with random options. Whatever the server does, the sink
// reports FORWARD_* errors only, never throws, keeps its counters balanced at every event, and close() ends.

const CODES = new Set<string>(Object.values(ForwardErrorCode));

/** A msgpack value that a server might send where a reply belongs. */
function hostileValue(random: Rng, chunk: string | undefined, depth = 0): unknown {
  switch (random.int(depth > 2 ? 8 : 12)) {
    case 0:
      return { ack: chunk ?? "x" };
    case 1:
      return { ack: random.pick([null, 7, true, "", "A".repeat(1000), random.bytes(16), [chunk]]) };
    case 2:
      return [
        "PONG",
        random.pick([true, false, 1, null]),
        random.pick(["", "x", random.bytes(4)]),
        "host",
        "digest",
      ];
    case 3:
      return [
        "HELO",
        random.pick([{}, null, { nonce: random.bytes(16) }, { nonce: "n", auth: 5, keepalive: "yes" }]),
      ];
    case 4:
      return random.pick([null, 0, -1, 2 ** 53, 1.5, Infinity, "", "ack", true]);
    case 5:
      return random.bytes(random.int(64));
    case 6:
      return { [random.pick(["ack", "ACK", "", "chunk"])]: chunk };
    case 7:
      return "x".repeat(random.int(5000));
    default:
      return Array.from({ length: random.int(4) }, () => hostileValue(random, chunk, depth + 1));
  }
}

/** Bytes that are not (all) msgpack: random, a cut value, a header claiming gigabytes. */
function hostileBytes(random: Rng): Buffer {
  switch (random.int(4)) {
    case 0:
      return random.bytes(1 + random.int(256));
    case 1: {
      const whole = pack(hostileValue(random, undefined));
      return whole.subarray(0, random.int(whole.length));
    }
    case 2:
      return Buffer.from([0x81, 0xa3, 0x61, 0x63, 0x6b, 0xdb, 0xff, 0xff, 0xff, 0xf0]);
    default:
      return Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff]);
  }
}

/** How one connection behaves, chosen when it opens. */
function connectionBehaviour(random: Rng): (socket: net.Socket, chunk: Buffer | undefined) => void {
  const kind = random.int(7);
  const splitter = new FrameSplitter(1024 * 1024);
  let chunks = 0;
  const closeAfter = 1 + random.int(5);
  return (socket, chunk) => {
    if (chunk === undefined) {
      if (random.int(3) === 0)
        socket.write(heloFrame(random.bytes(16), random.pick(["", random.bytes(16)]), random.int(2) === 0));
      if (kind === 6 && random.int(2) === 0) socket.destroy();
      return;
    }
    chunks++;
    switch (kind) {
      case 0: // garbage for every chunk
        socket.write(hostileBytes(random));
        break;
      case 1: // msgpack values where replies belong, about the frames' own chunk ids
      case 2: // right acks, mostly
        try {
          splitter.push(chunk, (frame) => {
            const value = unpackr.unpack(frame) as unknown;
            const option = Array.isArray(value)
              ? (value.at(-1) as { chunk?: string } | undefined)
              : undefined;
            const id = typeof option?.chunk === "string" ? option.chunk : undefined;
            const reply = kind === 2 && random.int(4) !== 0 ? { ack: id } : hostileValue(random, id);
            if (id !== undefined || kind === 1) socket.write(pack(reply));
          });
        } catch {
          socket.destroy();
        }
        break;
      case 3: // closes after a few chunks, sometimes with a last word
        if (chunks >= closeAfter) socket.end(random.int(2) === 0 ? hostileBytes(random) : Buffer.alloc(0));
        break;
      case 4: // resets
        if (chunks >= closeAfter) socket.resetAndDestroy();
        break;
      case 5: // silent: reads and never answers
        break;
      default: // replies byte by byte with a valid msgpack value of the wrong kind
        for (const byte of pack(hostileValue(random, undefined))) socket.write(Buffer.from([byte]));
    }
  };
}

function balanced(stats: SinkStats, requireAck: boolean): string | undefined {
  const settled = requireAck ? stats.acked : stats.sent;
  const total = settled + stats.bufferedEvents + stats.droppedBy.evicted + stats.droppedBy.undelivered;
  return stats.accepted === total
    ? undefined
    : `accepted ${stats.accepted} != settled ${settled} + buffered ${stats.bufferedEvents} + evicted ${stats.droppedBy.evicted} + undelivered ${stats.droppedBy.undelivered}`;
}

test("fuzz: whatever a Forward server replies, the sink reports FORWARD_* errors, keeps its counters balanced and closes", async (t) => {
  let random: Rng | undefined;
  const server = await answerWith((socket, chunk) => {
    const behave =
      (socket as net.Socket & { behave?: ReturnType<typeof connectionBehaviour> }).behave ??
      connectionBehaviour(random!);
    (socket as net.Socket & { behave?: typeof behave }).behave = behave;
    behave(socket, chunk);
  });
  t.after(() => server.close());
  const cases = await fuzzCases("server replies", async (caseRandom) => {
    random = caseRandom;
    const requireAck = random.int(2) === 0;
    const options: ForwardSinkOptions = {
      port: server.port,
      mode: random.pick(["Message", "Forward", "PackedForward", "CompressedPackedForward"] as const),
      requireAck,
      overflow: random.pick(["block", "dropOldest", "dropNewest"] as const),
      bufferLimitBytes: random.pick([8, 64, 256]) * 1024,
      batch: { maxEvents: random.pick([1, 10, 100]), maxDelayMs: random.pick([1, 10]) },
      ackTimeoutMs: random.pick([50, 150]),
      connectTimeoutMs: random.pick([100, 300]),
      reconnect: { minDelayMs: 1, maxDelayMs: 20 },
    };
    if (random.int(3) === 0) options.sharedKey = "k";
    const sink = new ForwardSink(options);
    const problems: string[] = [];
    const check = (event: string) => () => {
      const wrong = balanced(sink.stats(), requireAck);
      if (wrong) problems.push(`${event}: ${wrong}`);
    };
    sink.on("serverError", (err) => {
      if (!CODES.has(err.code)) problems.push(`serverError with code ${String(err.code)}: ${err.message}`);
      check("serverError")();
    });
    for (const event of ["connect", "disconnect", "drop"] as const) sink.on(event, check(event));
    const rounds = 1 + random.int(5);
    for (let round = 0; round < rounds; round++) {
      for (let i = random.int(400); i > 0; i--)
        sink.send("fuzz.tag", { i, msg: "m".repeat(random.int(200)) });
      await yieldToIo();
    }
    const closing = sink.close({ timeoutMs: 300 });
    let guard: NodeJS.Timeout | undefined;
    const hung = new Promise<"hung">((resolve) => (guard = setTimeout(() => resolve("hung"), 10_000)));
    const outcome = await Promise.race([closing, hung]);
    clearTimeout(guard);
    assert.notEqual(outcome, "hung", `close({ timeoutMs: 300 }) did not end (${JSON.stringify(options)})`);
    const stats = sink.stats();
    assert.deepEqual(problems, [], JSON.stringify(options));
    assert.equal(balanced(stats, requireAck), undefined, JSON.stringify(options));
    assert.equal(stats.bufferedEvents, 0, "nothing stays buffered after close");
  });
  t.diagnostic(`${cases} cases`);
});
