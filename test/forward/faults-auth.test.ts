import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { ForwardSink } from "../../src/forward/index.js";
import { msUntil, until } from "../helpers/fake-time.js";
import { watch } from "../helpers/misbehaving-emit.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

test("a wrong shared key gives one FORWARD_AUTH_FAILED serverError with the server's reason, then backoff, no reconnect storm", async (t) => {
  const server = await forwardReceiver({ sharedKey: "the right key" });
  t.after(() => server.close());
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.now() });
  const sink = new ForwardSink({
    port: server.port,
    sharedKey: "a wrong key",
    requireAck: true,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
  });
  t.after(() => sink.close({ timeoutMs: 0 }));
  const seen = watch(sink);
  const failed = once(sink, "serverError");
  for (let id = 0; id < 10; id++) sink.send("faults.app", { id });
  const [err] = (await failed) as [Error & { code: string; reason?: string }];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.reason ?? "", /shared_key mismatch/);

  const server0 = () => sink.stats().servers[0]!;
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const connections = server.connections;
    const delay = msUntil(server0().nextRetryAt);
    delays.push(delay);
    t.mock.timers.tick(Math.max(0, delay - 1));
    assert.equal(server.connections, connections, `attempt ${attempt}: nothing before the backoff is over`);
    t.mock.timers.tick(2);
    await until(() => server0().repeatedErrors === attempt, `attempt ${attempt} refused`);
  }
  // Backoff from 100 ms, doubling up to 1000 ms, with jitter (50-100 % of the step).
  const steps = [100, 200, 400, 800, 1000];
  delays.forEach((d, i) => assert.ok(d >= steps[i]! / 2 - 2 && d <= steps[i]!, `delay ${i + 1}: ${d} ms`));
  assert.equal(server.connections, 6, "one connection per attempt, no storm");
  assert.ok(server.authFailures >= 5, "every attempt was refused");
  assert.deepEqual(seen.codes, ["FORWARD_AUTH_FAILED"], "one serverError, not one per attempt");
  assert.equal(server0().fault, "FORWARD_AUTH_FAILED");
  assert.equal(server.events, 0);
  assert.deepEqual(seen.errors, []);
  t.mock.timers.reset();
  const report = await sink.close({ timeoutMs: 0 });
  assert.equal(report.undeliveredEvents, 10);
});
