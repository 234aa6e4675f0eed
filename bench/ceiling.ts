/**
 * The ceiling: msgpackr encoding the benchmark record alone, in a loop, with no I/O. Run as its own
 * process; prints {eventsPerSec, bytes} as JSON on stdout.
 */
import { Packr } from "msgpackr";
import { RECORDS, type RecordName } from "./records.js";

const name = (process.argv[2] ?? "small") as RecordName;
const record = RECORDS[name].make();
const packr = new Packr({ useRecords: false });
let bytes = 0;
const loop = (ms: number): number => {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) bytes = packr.pack(record).length;
    n += 100;
  }
  return n;
};
loop(300);
const ms = 1500;
const n = loop(ms);
process.stdout.write(JSON.stringify({ eventsPerSec: (n * 1000) / ms, bytes }) + "\n");
