import assert from "node:assert/strict";
import { test } from "node:test";
import { ForwardSink } from "../../src/index.js";
import { emitIds, watch } from "../helpers/misbehaving-emit.js";
import { dropAfterFrames, readNeverAck } from "../helpers/misbehaving-servers.js";
import { until } from "../helpers/fake-time.js";

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

/**
 * Sends 300 one-event frames, all the same size, to a server that reads everything and never acks; returns what was
 * on the wire once the sink stopped writing.
 */
async function unackedWindow(maxInFlightBytes: number | undefined) {
  const server = await readNeverAck();
  const sink = new ForwardSink({
    port: server.port,
    requireAck: true,
    batch: { maxEvents: 1 },
    ...(maxInFlightBytes === undefined ? {} : { maxInFlightBytes }),
  });
  for (let i = 0; i < 300; i++) sink.send("window.test", { pad: "x".repeat(60) });
  // Once connected, the sink writes what the window allows in one go, then waits for acks.
  await until(() => sink.stats().servers[0]!.sentFrames > 0, "the sink connected and wrote");
  const { inFlightFrames, sentFrames } = sink.stats().servers[0]!;
  const { bufferedBytes, bufferedFrames } = sink.stats();
  const frameBytes = bufferedBytes / bufferedFrames;
  await until(() => server.bytesRead === sentFrames * frameBytes, "the server read every frame written");
  await sink.close({ timeoutMs: 0 });
  await server.close();
  return { inFlightFrames, sentFrames, frameBytes };
}

test("with acks, frames on the wire stop at maxInFlightBytes (a server that never acks reads that window)", async () => {
  const small = await unackedWindow(1000);
  assert.equal(small.inFlightFrames, small.sentFrames);
  assert.ok(Number.isInteger(small.frameBytes), `frames of one size (${small.frameBytes} bytes on average)`);
  assert.equal(small.sentFrames, Math.ceil(1000 / small.frameBytes), `${small.frameBytes}-byte frames`);
  const byDefault = await unackedWindow(undefined);
  assert.equal(byDefault.sentFrames, 128, "by default, at most 128 frames are in flight");
});
