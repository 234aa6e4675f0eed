import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { UwsgiStatsSource } from "../../src/index.js";
import { GOOD_DOC } from "../helpers/hostile-documents.js";
import { fakeStatsServer, serveOnce } from "../helpers/uwsgi-fake-servers.js";
import { cliTempDir } from "../helpers/cli-temp.js";

test("stats() counts polls and records and tells per target whether its last read succeeded", async (t) => {
  const dir = cliTempDir(t, "uwsgi-forward-test-");
  const good = await fakeStatsServer(dir, "good.sock", serveOnce(GOOD_DOC));
  t.after(() => good.close());
  const missing = path.join(dir, "missing.sock");
  const source = new UwsgiStatsSource({ targets: [good.path, missing], shapes: ["summary"] });
  t.after(() => source.stop());

  const before = source.stats();
  assert.deepEqual([before.polls, before.records, before.lastPoll, before.targets], [0, 0, undefined, []]);

  const items = await source.poll();
  const first = source.stats();
  assert.equal(first.polls, 1);
  assert.equal(first.records, items.length);
  assert.deepEqual(
    first.lastPoll && [first.lastPoll.targets, first.lastPoll.ok, first.lastPoll.failed],
    [2, 1, 1],
  );
  const byTarget = new Map(first.targets.map((s) => [s.target, s]));
  const up = byTarget.get(good.path);
  assert.deepEqual(up && [up.up, up.reads, up.failures, up.failedPolls, up.lastCode], [
    true,
    1,
    0,
    0,
    undefined,
  ]);
  assert.equal(typeof up?.lastDurationMs, "number");
  assert.equal(typeof up?.lastSuccessAt, "number");
  const down = byTarget.get(missing);
  assert.deepEqual(down && [down.up, down.reads, down.failures, down.failedPolls, down.lastCode], [
    false,
    1,
    1,
    1,
    "UWSGI_STATS_NOT_FOUND",
  ]);
  assert.equal(down?.lastSuccessAt, undefined);

  await good.close();
  await source.poll();
  const second = new Map(source.stats().targets.map((s) => [s.target, s]));
  assert.deepEqual(
    [second.get(good.path)?.up, second.get(good.path)?.reads, second.get(good.path)?.failures],
    [false, 2, 1],
    "a target whose socket went away is down after its next read",
  );
  assert.equal(second.get(good.path)?.lastSuccessAt, up?.lastSuccessAt, "the last success is kept");
  assert.equal(source.stats().polls, 2);
});
