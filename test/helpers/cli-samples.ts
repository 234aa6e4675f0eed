import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UwsgiStatsSource, type ForwardItem } from "../../src/index.js";
import { ROOT } from "./cli-process.js";

/** The captured uWSGI documents beside the checkout (../shared/uwsgi-samples). */
export const SAMPLES = join(ROOT, "..", "shared", "uwsgi-samples");

/** The copies of some of those documents inside the repository (test/fixtures/uwsgi-samples). */
export const FIXTURE_SAMPLES = join(ROOT, "test", "fixtures", "uwsgi-samples");

/**
 * The records a source produces (with `shapes`) from two consecutive polls of a stats socket that answers
 * `first`, then `second` (sample file names), so rates are present in the second poll's records.
 */
export async function recordsFromSamples(
  t: { after: (fn: () => void) => void },
  first: string,
  second: string,
  shapes: ("raw" | "summary" | "worker" | "flat")[],
  dir = SAMPLES,
): Promise<ForwardItem[]> {
  const temp = mkdtempSync(join(tmpdir(), "uwsgi-forward-samples-"));
  t.after(() => rmSync(temp, { recursive: true, force: true }));
  const documents = [first, second].map((name) => readFileSync(join(dir, name)));
  let served = 0;
  const server = createServer((socket) => socket.end(documents[Math.min(served++, 1)] as Buffer));
  const path = join(temp, "stats.sock");
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  const source = new UwsgiStatsSource({ targets: [path], shapes });
  await source.poll();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const items = await source.poll();
  await source.stop();
  return items;
}
