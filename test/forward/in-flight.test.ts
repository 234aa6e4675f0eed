import assert from "node:assert/strict";
import { test } from "node:test";
import { ForwardSink } from "../../src/index.js";
import { emitIds, watch } from "../helpers/misbehaving-emit.js";
import { dropAfterFrames } from "../helpers/misbehaving-servers.js";

test("with acks, a reset re-sends at most 128 frames per connection (Message mode, server cuts every 300th frame)", async (t) => {
  const server = await dropAfterFrames(300);
  t.after(() => server.close());
  const sink = new ForwardSink({
    port: server.port,
    mode: "Message",
    requireAck: true,
    reconnect: { minDelayMs: 10, maxDelayMs: 100 },
  });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const seen = watch(sink);
  await emitIds(sink, 0, 2000);
  await sink.flush();
  const stats = sink.stats();
  assert.equal(server.unique, 2000, "every event arrived");
  assert.equal(stats.acked, 2000);
  assert.ok(server.connections > 2, `${server.connections} connections`);
  assert.ok(
    stats.retried <= 128 * server.connections,
    `${stats.retried} re-sent over ${server.connections} connections`,
  );
  assert.ok(server.duplicates <= stats.retried);
  assert.deepEqual(seen.errors, []);
});
