import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { ForwardSink } from "../../src/forward/index.js";
import { watch } from "../helpers/misbehaving-emit.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

test("a wrong shared key gives one FORWARD_AUTH_FAILED serverError with the server's reason, then backoff, no reconnect storm", async (t) => {
  const server = await forwardReceiver({ sharedKey: "the right key" });
  t.after(() => server.close());
  const sink = new ForwardSink({
    port: server.port,
    sharedKey: "a wrong key",
    requireAck: true,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
  });
  t.after(() => sink.close({ timeoutMs: 100 }));
  const seen = watch(sink);
  const failed = once(sink, "serverError");
  for (let id = 0; id < 10; id++) sink.send("faults.app", { id });
  const [err] = (await failed) as [Error & { code: string; reason?: string }];
  assert.equal(err.code, "FORWARD_AUTH_FAILED");
  assert.match(err.reason ?? "", /shared_key mismatch/);

  await sleep(1500);
  // Backoff from 100 ms, doubling, with jitter (50-100 % of the step): at most 6 attempts fit in 1.5 s.
  assert.ok(server.connections >= 2, `${server.connections} attempts: the sink keeps probing`);
  assert.ok(server.connections <= 8, `${server.connections} connection attempts in 1.5 s`);
  assert.ok(
    server.authFailures >= server.connections - 1,
    "every attempt was refused (the last may be under way)",
  );
  assert.deepEqual(seen.codes, ["FORWARD_AUTH_FAILED"], "one serverError, not one per attempt");
  assert.equal(server.events, 0);
  assert.deepEqual(seen.errors, []);
  const report = await sink.close({ timeoutMs: 100 });
  assert.equal(report.undeliveredEvents, 10);
});
