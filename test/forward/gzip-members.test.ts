import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { GzipMembers } from "../../src/forward/batching/gzip-members.js";
import { ForwardSink } from "../../src/forward/index.js";
import { ForwardReceiver } from "../helpers/forward-receiver.js";

/** Text-like inputs of growing size, each different. */
function inputs(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(1000 + i * 3000);
    for (let j = 0; j < b.length; j++) b[j] = (j * (i + 7)) % 61 < 20 ? 97 + (j % 13) : 32;
    return b;
  });
}

function compress(gzip: GzipMembers, input: Buffer, order: number[], index: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    gzip.compress(input, (err, member) => {
      order.push(index);
      if (err) reject(err);
      else resolve(member!);
    }),
  );
}

for (const level of [1, 6, 9]) {
  test(`gzip members at level ${level}: in order, each byte for byte what zlib.gzip() makes of its input`, async () => {
    const gzip = new GzipMembers(level);
    const all = inputs(20);
    const order: number[] = [];
    const members = await Promise.all(all.map((input, i) => compress(gzip, input, order, i)));
    assert.deepEqual(
      order,
      all.map((_, i) => i),
    );
    members.forEach((member, i) => {
      assert.deepEqual(member, gzipSync(all[i]!, { level }), `member ${i}`);
      assert.deepEqual(gunzipSync(member), all[i]);
    });
  });
}

test("gzip members: an input given after the others finished still makes a complete member", async () => {
  const gzip = new GzipMembers(1);
  const [first, second] = inputs(2);
  assert.deepEqual(gunzipSync(await compress(gzip, first!, [], 0)), first);
  assert.deepEqual(gunzipSync(await compress(gzip, second!, [], 1)), second);
  assert.deepEqual(gunzipSync(await compress(gzip, Buffer.alloc(0), [], 2)), Buffer.alloc(0));
});

test("gzip members: an input no longer wanted at its turn is skipped (never gzipped), and the ones after it still come out", async () => {
  const gzip = new GzipMembers(1);
  const all = Array.from({ length: 3000 }, (_, i) => Buffer.from(`input ${i} `.repeat(20)));
  const wanted = new Set([0, 1500, 2999]);
  const results = await Promise.all(
    all.map(
      (input, i) =>
        new Promise<Buffer | undefined>((resolve, reject) =>
          gzip.compress(
            input,
            (err, member) => (err ? reject(err) : resolve(member)),
            () => wanted.has(i),
          ),
        ),
    ),
  );
  // Input 0 was taken at once (nothing else queued), before anyone could change its fate.
  for (const [i, member] of results.entries()) {
    if (wanted.has(i)) assert.deepEqual(gunzipSync(member!), all[i], `input ${i}`);
    else assert.equal(member, undefined, `input ${i} was skipped`);
  }
});

test(
  "CompressedPackedForward under dropOldest: after a burst that outran gzip, the frames still buffered go out at once, not after the gzip jobs of every dropped frame",
  { timeout: 30_000 },
  async (t) => {
    const receiver = await ForwardReceiver.start();
    t.after(() => receiver.close());
    const sink = new ForwardSink({
      port: receiver.port,
      mode: "CompressedPackedForward",
      overflow: "dropOldest",
      bufferLimitBytes: 256 * 1024,
      batch: { maxEvents: 1 },
    });
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 1000; i++) sink.send("gz.tag", { i: round * 1000 + i, msg: "x".repeat(200) });
      await yieldToIo();
    }
    const burst = sink.stats();
    assert.ok(
      burst.droppedBy.evicted > 90_000,
      `the burst outran the buffer (${burst.droppedBy.evicted} evicted)`,
    );
    // Before the fix, gzip first compressed every dropped frame (about 98,000 jobs, a minute here): the test times out.
    await sink.flush();
    const after = sink.stats();
    assert.equal(after.bufferedEvents, 0);
    assert.equal(after.accepted, after.sent + after.droppedBy.evicted);
    await receiver.waitForEvents(after.sent);
    assert.equal(receiver.events.length, after.sent);
    await sink.close();
  },
);
