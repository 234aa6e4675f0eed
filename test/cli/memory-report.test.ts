import assert from "node:assert/strict";
import { test } from "node:test";
import { MEMORY_REPORT_POLLS, MemoryReportCheck } from "../../src/cli/memory-report.js";
import { DEFAULT_TAGS } from "../../src/uwsgi/options.js";
import { recordsFromSamples } from "../helpers/cli-samples.js";

const SHAPES = ["raw", "summary", "worker", "flat"] as const;

/** The warnings a check gives over `polls` polls that each yield `items`. */
function warnings(items: Awaited<ReturnType<typeof recordsFromSamples>>, polls: number): string[] {
  const warned: string[] = [];
  const check = new MemoryReportCheck(DEFAULT_TAGS, (message) => warned.push(message));
  for (let i = 0; i < polls; i++) {
    for (const item of items) check.record(item);
    check.poll();
  }
  return warned;
}

for (const shape of SHAPES) {
  test(`the ${shape} records of a uWSGI without memory-report warn once, at poll ${MEMORY_REPORT_POLLS}`, async (t) => {
    // Captured from uWSGI 2.0.21 without memory-report, after load: requests served, rss 0.
    const items = await recordsFromSamples(t, "a_seed_unix_load_t0.json", "a_seed_unix_load_t0plus2s.json", [
      shape,
    ]);
    assert.deepEqual(warnings(items, MEMORY_REPORT_POLLS - 1), []);
    const warned = warnings(items, MEMORY_REPORT_POLLS + 5);
    assert.equal(warned.length, 1, warned.join("\n"));
    assert.match(warned[0] ?? "", /every worker's rss is 0 after serving requests, 3 polls in a row/);
  });

  test(`the ${shape} records of a uWSGI with memory-report give no warning`, async (t) => {
    const items = await recordsFromSamples(t, "big-t0.json", "big-t1.json", [shape]);
    assert.deepEqual(warnings(items, MEMORY_REPORT_POLLS + 5), []);
  });
}

test("an idle uWSGI (no request served yet) is not warned about: rss is 0 with memory-report too", async (t) => {
  const items = await recordsFromSamples(t, "seed-idle.json", "seed-idle.json", ["summary"]);
  assert.equal(items[0]?.record.requests, 0);
  assert.deepEqual(warnings(items, MEMORY_REPORT_POLLS + 5), []);
});
