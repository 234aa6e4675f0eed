import { createServer } from "node:net";
import { join } from "node:path";
import { UwsgiStatsSource, type ForwardItem, type StatsShape } from "../../src/index.js";
import { cliTempDir } from "./cli-temp.js";
import { uwsgiSample } from "./uwsgi-samples.js";

/**
 * The records a source produces (with `shapes`) from two consecutive polls of a stats socket that answers
 * `first`, then `second` (sample file names), so rates are present in the second poll's records.
 */
export async function recordsFromSamples(
  t: { after: (fn: () => void) => void },
  first: string,
  second: string,
  shapes: StatsShape[],
): Promise<ForwardItem[]> {
  const dir = cliTempDir(t, "uwsgi-forward-samples-");
  const documents = [first, second].map(uwsgiSample);
  let served = 0;
  const server = createServer((socket) => socket.end(documents[Math.min(served++, 1)] as Buffer));
  const path = join(dir, "stats.sock");
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  const source = new UwsgiStatsSource({ targets: [path], shapes });
  await source.poll();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const items = await source.poll();
  await source.stop();
  return items;
}
