/**
 * RecordEncoder alone: CPU time per record to encode the benchmark records (`small`, `uwsgi`), an error log line of
 * long strings (`log`), and the worst case of its key cache (`ids`: 20 keys per record that its cache cannot hold,
 * as when records use ids as keys) into a reused buffer, no I/O. Prints the minimum over 35 rounds (on a shared
 * machine noise only adds time).
 *
 * Run: `node --import tsx bench/encoder.ts [small|log|uwsgi|ids...]` (all four by default, each in its own process).
 * Machine noise is about ±10%: to compare two versions, run this in each checkout several times, alternating.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RecordEncoder, type EncodeTarget } from "../src/forward/protocol/record-encoder.js";
import { logRecord, RECORDS } from "./records.js";

const WORKLOADS = {
  small: { records: () => [RECORDS.small.make()], perRound: 200_000 },
  log: { records: () => [logRecord()], perRound: 100_000 },
  uwsgi: { records: () => [RECORDS.uwsgi.make()], perRound: 2_000 },
  ids: { records: idRecords, perRound: 40_000 },
} as const;
type Workload = keyof typeof WORKLOADS;
const ROUNDS = 40;
const WARM_UP_ROUNDS = 5;

/** 4096 records of 20 keys each, 81,920 keys in all: many more than the key cache holds. */
function idRecords(): Record<string, unknown>[] {
  return Array.from({ length: 4096 }, (_, r) => {
    const users: Record<string, number> = {};
    for (let k = 0; k < 20; k++) users[`user-${r * 20 + k}`] = k;
    return { level: "info", users };
  });
}

/** A target that grows like a batch: to twice the size, keeping what is written. */
class GrowingBuffer implements EncodeTarget {
  buf = Buffer.alloc(64 * 1024);
  grow(min: number, used: number): Buffer {
    const next = Buffer.alloc(Math.max(min, 2 * this.buf.length));
    this.buf.copy(next, 0, 0, used);
    this.buf = next;
    return next;
  }
}

function measure(name: Workload): string {
  const { records, perRound } = WORKLOADS[name];
  const list = records();
  const target = new GrowingBuffer();
  const encoder = new RecordEncoder();
  let bestNs = Infinity;
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) bytes = encoder.encodeInto(list[i % list.length]!, target, 0);
    const ns = Number(process.hrtime.bigint() - start) / perRound;
    if (round >= WARM_UP_ROUNDS) bestNs = Math.min(bestNs, ns);
  }
  return `${name}: ${(bestNs / 1000).toFixed(3)} µs/record (min of ${ROUNDS - WARM_UP_ROUNDS} rounds of ${perRound}; last record ${bytes} bytes)`;
}

const asked = process.argv.slice(2);
for (const name of asked)
  if (!(name in WORKLOADS)) throw new Error(`unknown record ${name}: small, log, uwsgi or ids`);
if (asked.length === 1) {
  console.log(measure(asked[0] as Workload));
} else {
  const self = fileURLToPath(import.meta.url);
  for (const name of asked.length > 0 ? asked : Object.keys(WORKLOADS)) {
    process.stdout.write(
      execFileSync(process.execPath, ["--import", "tsx", self, name], { encoding: "utf8" }),
    );
  }
}
