import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import { GzipMembers } from "../../src/forward/batching/gzip-members.js";

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
