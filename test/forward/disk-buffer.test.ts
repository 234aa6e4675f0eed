import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import test from "node:test";
import { ForwardSink } from "../../src/index.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { freePort } from "../helpers/free-port.js";
import { ForwardReceiver } from "../helpers/forward-receiver.js";

test("a sink closed with its server down keeps its events on disk; the next one sends them first and counts them as replayed", async (t) => {
  const dir = cliTempDir(t, "disk-buffer-");
  const port = await freePort();
  const first = new ForwardSink({
    port,
    requireAck: true,
    bufferPath: dir,
    reconnect: { minDelayMs: 10_000 },
  });
  first.on("serverError", () => {});
  for (let i = 0; i < 30; i++) first.send(`app.${i % 3}`, { i });
  const report = await first.close({ timeoutMs: 0 });
  assert.equal(report.undeliveredEvents, 30);
  assert.equal(report.keptEvents, 30);
  assert.equal(first.stats().droppedBy.undelivered, 0, "kept on disk, not dropped");
  assert.match(report.error?.message ?? "", /30 of them kept in bufferPath/);

  const receiver = await ForwardReceiver.start({ port });
  t.after(() => receiver.close());
  const second = new ForwardSink({ port, requireAck: true, bufferPath: dir });
  assert.equal(second.stats().replayed, 30);
  second.send("app.new", { i: 30 });
  await second.flush();
  const seen = receiver.events.map((e) => e.record.i);
  assert.deepEqual(seen, [
    ...Array.from({ length: 30 }, (_, i) => i).sort((a, b) => (a % 3) - (b % 3) || a - b),
    30,
  ]);
  const s = second.stats();
  assert.equal(
    s.accepted + s.replayed,
    s.acked + s.bufferedEvents + s.droppedBy.evicted + s.droppedBy.undelivered,
  );
  const closed = await second.close();
  assert.equal(closed.delivered, true, "acks confirmed every event, replayed ones included");
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.endsWith(".seg")),
    [],
  );
});
