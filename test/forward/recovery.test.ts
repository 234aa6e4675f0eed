import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { ForwardSink } from "../../src/forward/index.js";
import { RETURN_PROBE_MS } from "../../src/forward/servers/server-pool.js";
import { TestClock, until } from "../helpers/fake-time.js";
import { ForwardReceiver, freePort } from "../helpers/forward-receiver.js";

for (const requireAck of [false, true]) {
  test(`a server that listens again gets traffic within a second, though the backoff had reached 30 s (acks ${requireAck ? "on" : "off"})`, async (t) => {
    const clock = new TestClock();
    const port = await freePort();
    const sink = new ForwardSink({
      port,
      requireAck,
      reconnect: { minDelayMs: 30_000, maxDelayMs: 30_000 },
      clock,
    });
    t.after(() => sink.close({ timeoutMs: 0 }));
    const refused = once(sink, "serverError");
    for (let i = 0; i < 10; i++) sink.send("back.tag", { i });
    void sink.flush();
    const [err] = await refused;
    assert.equal(err.code, "FORWARD_CONNECT_FAILED");
    const server = () => sink.stats().servers[0]!;
    assert.ok(server().nextRetryAt!.getTime() - Date.now() >= 15_000, "the backoff is 15-30 s");

    // Still down at the first probe: it fails quietly and the backoff stands.
    clock.tick(RETURN_PROBE_MS);
    await until(() => server().failedProbes === 1, "the first probe");
    assert.equal(server().repeatedErrors, 0, "a failed probe is not a new failure");
    const receiver = await ForwardReceiver.start({ port });
    t.after(() => receiver.close());
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(receiver.connections, 0, "the first probe failed before the server came back");

    // The server listens again: the next probe finds it at most RETURN_PROBE_MS later.
    clock.tick(RETURN_PROBE_MS - 1);
    assert.equal(receiver.connections, 0, "nothing before the probe is due");
    clock.tick(1);
    await until(() => receiver.events.length === 10, "the buffered events arrive");
    assert.equal(server().state, "up");
    assert.ok(server().nextRetryAt === undefined);
    if (requireAck) await until(() => sink.stats().acked === 10, "the acks");
  });
}

test("the return probe does not cut short the backoff of a server that refuses the handshake", async (t) => {
  // faults-auth.test.ts checks every attempt waits for its backoff; here the backoff is long and the server is up.
  const { forwardReceiver } = await import("../helpers/misbehaving-servers.js");
  const server = await forwardReceiver({ sharedKey: "right" });
  t.after(() => server.close());
  const clock = new TestClock();
  const sink = new ForwardSink({
    port: server.port,
    sharedKey: "wrong",
    reconnect: { minDelayMs: 30_000, maxDelayMs: 30_000 },
    clock,
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const refused = once(sink, "serverError");
  sink.send("auth.tag", { a: 1 });
  await refused;
  for (let i = 0; i < 5; i++) {
    clock.tick(RETURN_PROBE_MS);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(server.connections, 1, "no probe, no reconnect, within the backoff");
});
