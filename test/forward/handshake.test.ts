import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { once } from "node:events";
import { Packr, pack } from "msgpackr";
import { ForwardSink, type ForwardError } from "../../src/forward/index.js";
import { buildPing, checkPong, parseHelo } from "../../src/forward/protocol/handshake.js";
import { ReplyDecoder } from "../../src/forward/protocol/reply-decoder.js";
import { decodeFrame } from "../helpers/misbehaving-msgpack.js";

const sha512 = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** A msgpack str holding arbitrary bytes, as Fluent Bit sends its nonce. */
function rawStr(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]);
}

/** ["HELO", {"nonce": <str of raw bytes>, "auth": <str>, "keepalive": true}] built by hand. */
function heloWithStrNonce(nonce: Buffer, auth: Buffer): Buffer {
  const key = (s: string) => rawStr(Buffer.from(s));
  return Buffer.concat([
    Buffer.from([0x92]),
    key("HELO"),
    Buffer.from([0x83]),
    key("nonce"),
    rawStr(nonce),
    key("auth"),
    rawStr(auth),
    key("keepalive"),
    Buffer.from([0xc3]),
  ]);
}

test("PING digests use the HELO nonce and auth salt as raw bytes even when they arrive as non-UTF-8 str", () => {
  const nonce = Buffer.from("ff fe 80 81 00 c3 28 a0 a1 e2 28 a1 f0 28 8c bc".replace(/ /g, ""), "hex");
  const auth = randomBytes(16);
  const [helo] = new ReplyDecoder().push(heloWithStrNonce(nonce, auth));
  const parsed = parseHelo(helo as never);
  assert.deepEqual(parsed.nonce, nonce);
  assert.deepEqual(parsed.auth, auth);
  assert.equal(parsed.keepalive, true);

  const credentials = { selfHostname: "me", sharedKey: "k", username: "u", password: "p" };
  const ping = buildPing(parsed, credentials, "0123456789abcdef0123456789abcdef");
  const fields = new ReplyDecoder().push(ping.frame)[0] as Buffer[];
  // Every PING element is a msgpack str (0xa0-0xbf, 0xd9-0xdb), never bin.
  assert.equal(ping.frame[0], 0x96);
  assert.deepEqual(
    fields.map((f) => f.toString()),
    [
      "PING",
      "me",
      "0123456789abcdef0123456789abcdef",
      sha512("0123456789abcdef0123456789abcdef", "me", nonce, "k"),
      "u",
      sha512(auth, "u", "p"),
    ],
  );
  const frame = ping.frame;
  let pos = 1;
  for (let i = 0; i < 6; i++) {
    const b = frame[pos]!;
    assert.ok((b & 0xe0) === 0xa0 || b === 0xd9, `element ${i} is not a str (0x${b.toString(16)})`);
    const len = b === 0xd9 ? frame[pos + 1]! : b & 0x1f;
    pos += (b === 0xd9 ? 2 : 1) + len;
  }
  assert.equal(pos, frame.length);
});

test("a PONG whose digest does not prove knowledge of the shared key is rejected", () => {
  const helo = { nonce: randomBytes(16), auth: Buffer.alloc(0), keepalive: true };
  const credentials = { selfHostname: "me", sharedKey: "k" };
  const salt = "aa";
  const good = sha512(salt, "server", helo.nonce, "k");
  const pong = (digest: string) => [
    Buffer.from("PONG"),
    true,
    Buffer.from(""),
    Buffer.from("server"),
    Buffer.from(digest),
  ];
  assert.equal(checkPong(pong(good), helo, credentials, salt), "server");
  assert.throws(() => checkPong(pong(sha512(salt, "server", helo.nonce, "other")), helo, credentials, salt), {
    code: "FORWARD_AUTH_FAILED",
  });
  assert.throws(
    () =>
      checkPong(
        [Buffer.from("PONG"), false, Buffer.from("nope"), Buffer.from(""), Buffer.from("")],
        helo,
        credentials,
        salt,
      ),
    { code: "FORWARD_AUTH_FAILED", message: /nope/ },
  );
});

test("a Fluent Bit style server (str nonce of random bytes) authenticates the sink and receives events", async (t) => {
  const nonce = Buffer.from("c328a0a1e228a1f0288cbcfffe808100", "hex");
  const packr = new Packr({ useRecords: false });
  const received: unknown[] = [];
  let pingOk = false;
  const server = net.createServer((socket) => {
    socket.write(heloWithStrNonce(nonce, Buffer.alloc(0)));
    const decoder = new ReplyDecoder(1 << 20);
    socket.on("data", (chunk) => {
      for (const value of decoder.push(chunk)) {
        const arr = value as Buffer[];
        if (!pingOk) {
          const [, host, salt, digest] = arr.map((b) => (Buffer.isBuffer(b) ? b.toString("latin1") : b));
          pingOk = digest === sha512(salt!, host!, nonce, "fb-key");
          const serverDigest = sha512(salt!, "fluent-bit", nonce, "fb-key");
          socket.write(
            packr.pack(["PONG", pingOk, pingOk ? "" : "shared_key mismatch", "fluent-bit", serverDigest]),
          );
        } else {
          received.push(value);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const sink = new ForwardSink({
    port: (server.address() as net.AddressInfo).port,
    sharedKey: "fb-key",
    mode: "Message",
  });
  t.after(() => sink.close({ timeoutMs: 200 }));
  const errors: ForwardError[] = [];
  sink.on("serverError", (e) => errors.push(e));
  sink.send("fb.tag", { a: 1 }, 1_700_000_005_000);
  await sink.flush();
  while (received.length === 0) await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, []);
  assert.equal(pingOk, true);
  const frame = received[0] as Buffer[];
  assert.equal(frame[0]!.toString(), "fb.tag");
});

test("a server that sends HELO and never PONG fails the handshake with FORWARD_HANDSHAKE_TIMEOUT", async (t) => {
  const server = net.createServer((socket) => {
    socket.write(heloWithStrNonce(randomBytes(16), Buffer.alloc(0)));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const sink = new ForwardSink({
    port: (server.address() as net.AddressInfo).port,
    sharedKey: "k",
    connectTimeoutMs: 100,
    reconnect: { minDelayMs: 5000 },
  });
  t.after(() => sink.close({ timeoutMs: 50 }));
  sink.send("x", { a: 1 });
  const [err] = (await once(sink, "serverError")) as [ForwardError];
  assert.equal(err.code, "FORWARD_HANDSHAKE_TIMEOUT");
  assert.match(err.message, /no PONG/);
});

test("the test receiver decodes what the sink sends (sanity check of the helper)", () => {
  const frame = decodeFrame(pack(["t", 1, { a: 1 }]));
  assert.equal(frame.mode, "Message");
  assert.deepEqual(frame.events, [{ tag: "t", time: 1, record: { a: 1 } }]);
});
