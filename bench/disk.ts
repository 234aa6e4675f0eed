/**
 * `node --import tsx bench/disk.ts [small|uwsgi ...]`: ForwardSink in memory against ForwardSink with a disk buffer
 * (`durability` "frame", "event", and "frame" with `fsync`), same record, the configs taking turns within each of
 * `BENCH_REPEATS` rounds; prints each config's median events/s and its ratio to memory mode, per round. The same
 * configs run inside `npm run bench` (bench/run.ts), whose figures go to docs/benchmarks.md.
 */
import type { BufferMode } from "./client.js";
import { median } from "./median.js";
import type { RecordName } from "./records.js";
import { runOne, type Run } from "./run-one.js";

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const MODES = (process.env.BENCH_BUFFERS ?? "memory,frame,event,fsync").split(",") as (
  BufferMode | "memory"
)[];
const records = (
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["small", "uwsgi"]
) as RecordName[];

for (const record of records) {
  const runs: Run[][] = MODES.map(() => []);
  for (let i = 0; i < REPEATS; i++) {
    for (const [k, mode] of MODES.entries()) {
      runs[k]!.push(await runOne("ForwardSink", record, false, mode === "memory" ? undefined : mode));
    }
  }
  for (const [k, mode] of MODES.entries()) {
    const rates = runs[k]!.map((r) => r.eventsPerSec);
    const ratios = runs[k]!.map((r, i) => r.eventsPerSec / runs[0]![i]!.eventsPerSec);
    const rss = median(runs[k]!.map((r) => r.peakRssMb));
    console.log(
      `${record.padEnd(6)} ${mode.padEnd(7)} ${Math.round(median(rates)).toLocaleString("en-US").padStart(10)} ev/s ` +
        `÷ memory ${median(ratios).toFixed(2)} [${ratios.map((x) => x.toFixed(2)).join(", ")}] ` +
        `${median(runs[k]!.map((r) => r.cpuUsPerEvent)).toFixed(2)} µs/ev, peak RSS ${rss.toFixed(0)} MB`,
    );
  }
}
