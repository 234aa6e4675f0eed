/**
 * `npm run bench`: ForwardSink against @fluent-org/logger's FluentClient and fluent-logger, same records,
 * same run, one connection each, every client and every receiver in its own process. Only events the
 * receiver decoded count. Writes docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import * as prettier from "prettier";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BufferMode, ClientName } from "./client.js";
import type { RecordName } from "./records.js";
import { median } from "./median.js";
import { DURATION_MS, WARMUP_MS, runOne, type Run } from "./run-one.js";

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

/** Runs every config REPEATS times, round-robin (so a change in machine load hits every client alike); median by events/s. */
/** Every config's runs, in round order: REPEATS rounds, the configs taking turns within a round. */
async function rounds(record: RecordName): Promise<Run[][]> {
  const runs: Run[][] = CONFIGS.map(() => []);
  for (let i = 0; i < REPEATS; i++) {
    for (const [k, c] of CONFIGS.entries()) runs[k]!.push(await runOne(c.client, record, c.acks, c.buffer));
  }
  return runs;
}

/** The run with the median events/s. */
function medianRun(all: Run[]): Run {
  const sorted = [...all].sort((a, b) => a.eventsPerSec - b.eventsPerSec);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  const label = clientLabel(mid);
  console.log(
    `${mid.record.padEnd(6)} ${label.padEnd(20)} ${fmt(mid.eventsPerSec).padStart(10)} ev/s ` +
      `[${all.map((r) => fmt(r.eventsPerSec)).join(", ")}] ${mid.cpuUsPerEvent.toFixed(2)} µs/ev ` +
      `${mid.bytesPerEvent.toFixed(1)} B/ev ${mid.peakRssMb.toFixed(0)} MB arrived ${mid.arrived}/${mid.emitted} ` +
      `receiver ${mid.receiverCpuUsPerEvent.toFixed(2)} µs/ev`,
  );
  return mid;
}

/** Median over rounds of a/b, each ratio taken within one round (so load drift between rounds cancels out). */
function ratioByRound(a: Run[], b: Run[], metric: (r: Run) => number): { median: number; all: number[] } {
  const all = a.map((run, i) => metric(run) / metric(b[i]!));
  return { median: median(all), all };
}

async function ceiling(record: RecordName): Promise<{ eventsPerSec: number; bytes: number }> {
  const out = execFileSync(process.execPath, ["--import", "tsx", here("./ceiling.ts"), record], {
    encoding: "utf8",
  });
  return JSON.parse(out) as { eventsPerSec: number; bytes: number };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

const CONFIGS: { client: ClientName; acks: boolean; buffer?: BufferMode }[] = [
  { client: "ForwardSink", acks: false },
  { client: "ForwardSink", acks: true },
  { client: "FluentClient", acks: false },
  { client: "fluent-logger", acks: false },
  { client: "ForwardSink", acks: false, buffer: "frame" },
  { client: "ForwardSink", acks: false, buffer: "event" },
  { client: "ForwardSink", acks: false, buffer: "fsync" },
];

/** BufferMode as the tables show it. */
const BUFFER_LABELS: Record<BufferMode, string> = {
  frame: 'disk, durability "frame"',
  event: 'disk, durability "event"',
  fsync: 'disk, "frame" + fsync',
};

/** A config's name in the tables: `ForwardSink (acks)`, `ForwardSink (disk, durability "frame")`. */
function clientLabel(r: Pick<Run, "client" | "acks" | "buffer">): string {
  const notes = [r.acks ? "acks" : "", r.buffer ? BUFFER_LABELS[r.buffer] : ""].filter(Boolean);
  return notes.length > 0 ? `${r.client} (${notes.join(", ")})` : r.client;
}

async function main(): Promise<void> {
  const started = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const t0 = performance.now();
  const sections: string[] = [];
  const summary: string[] = [];
  for (const record of ["small", "uwsgi"] as RecordName[]) {
    const top = await ceiling(record);
    console.log(`${record.padEnd(6)} msgpackr pack() alone ${fmt(top.eventsPerSec).padStart(10)} ev/s`);
    const all = await rounds(record);
    const runs = all.map(medianRun);
    const rival = runs[2]!;
    const target = record === "small" ? 7 : 3;
    const rate = (r: Run): number => r.eventsPerSec;
    const perCpu = (r: Run): number => 1 / r.cpuUsPerEvent;
    const vsRival = ratioByRound(all[0]!, all[2]!, rate);
    const ackRatio = ratioByRound(all[1]!, all[0]!, rate);
    const cpuVsRival = ratioByRound(all[0]!, all[2]!, perCpu);
    const diskRatios = ([4, 5, 6] as const).map((k) => ({ k, ratio: ratioByRound(all[k]!, all[0]!, rate) }));
    const list = (xs: number[], pct = false): string =>
      xs.map((x) => (pct ? `${(x * 100).toFixed(0)} %` : `${x.toFixed(2)}×`)).join(", ");
    summary.push(
      `| ${recordTitle(record)}: ForwardSink ÷ FluentClient events/s | ${vsRival.median.toFixed(2)}× | ${list(vsRival.all)} | ≥ ${target}× | ${vsRival.median >= target ? "met" : "**missed**"} |`,
      `| ${recordTitle(record)}: ForwardSink acks on ÷ off events/s | ${(ackRatio.median * 100).toFixed(0)} % | ${list(ackRatio.all, true)} | ≥ 80 % | ${ackRatio.median >= 0.8 ? "met" : "**missed**"} |`,
      `| ${recordTitle(record)}: FluentClient ÷ ForwardSink client CPU per event | ${cpuVsRival.median.toFixed(2)}× | ${list(cpuVsRival.all)} | (for reference) | |`,
      ...diskRatios.map(({ k, ratio }) => {
        const target = k === 4 ? "≥ 70 %" : "(for reference)";
        const verdict = k === 4 ? (ratio.median >= 0.7 ? "met" : "**missed**") : "";
        return `| ${recordTitle(record)}: ForwardSink ${BUFFER_LABELS[CONFIGS[k]!.buffer!]} ÷ memory events/s | ${(ratio.median * 100).toFixed(0)} % | ${list(ratio.all, true)} | ${target} | ${verdict} |`;
      }),
    );
    sections.push(
      `### ${recordTitle(record)} (msgpack ${top.bytes} bytes)`,
      "",
      "| client | events/s | vs FluentClient | client CPU µs/event | bytes/event on the wire | peak RSS (MB) | arrived / emitted | receiver CPU µs/event |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...runs.map(
        (r) =>
          `| ${clientLabel(r)} | ${fmt(r.eventsPerSec)} | ${(r.eventsPerSec / rival.eventsPerSec).toFixed(2)}× | ` +
          `${r.cpuUsPerEvent.toFixed(2)} | ${r.bytesPerEvent.toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ${r.arrived} / ${r.emitted} | ${r.receiverCpuUsPerEvent.toFixed(2)} |`,
      ),
      `| *ceiling: msgpackr \`pack(record)\` alone, no I/O* | ${fmt(top.eventsPerSec)} | ${(top.eventsPerSec / rival.eventsPerSec).toFixed(2)}× | ${(1e6 / top.eventsPerSec).toFixed(2)} | ${top.bytes} | | | |`,
      "",
    );
  }
  const { runEventLoopBench } = (await import(pathToFileURL(here("./event-loop.ts")).href)) as {
    runEventLoopBench: () => Promise<string>;
  };
  const eventLoop = await runEventLoopBench();
  let source = "";
  if (existsSync(here("./source.ts")) && !process.env.BENCH_SKIP_SOURCE) {
    const mod = (await import(pathToFileURL(here("./source.ts")).href)) as {
      runSourceBench?: () => Promise<string>;
    };
    if (mod.runSourceBench) source = await mod.runSourceBench();
  }
  const minutes = ((performance.now() - t0) / 60000).toFixed(1);
  const cpu = os.cpus()[0]?.model ?? "unknown";
  const file = here("../docs/benchmarks.md");
  const doc = [
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (bench/run.ts); the figures below are from one run of that command.",
    "",
    `- Date: ${started.toISOString()} (the run took ${minutes} min)`,
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    `- Node ${process.version}; code at commit ${commit()}`,
    `- Load average (1 min) at start / end: ${loadAtStart.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} ` +
      "(anything above 0 means other processes competed for the cores during the run)",
    `- Command: \`npm run bench\` (\`BENCH_DURATION_MS=${DURATION_MS} BENCH_REPEATS=${REPEATS} BENCH_WARMUP_MS=${WARMUP_MS}\`)`,
    "",
    "## ForwardSink against the other Node Forward clients",
    "",
    "Each client sends the same record over one TCP connection on 127.0.0.1 for " +
      `${DURATION_MS / 1000} s as fast as it accepts events, then waits until its library reports everything ` +
      "written (or acked). Client and receiver each run in their own process; the receiver decodes every frame " +
      "(msgpack, gzip, every entry) and counts the events, so only what arrived counts. " +
      "events/s = events arrived ÷ (last arrival − first emit); CPU is the client process's user+system time " +
      "divided by the events it emitted; bytes/event is what the receiver read off the socket; peak RSS is the " +
      `client process's maxRSS (Node itself and the loader included). ${REPEATS} rounds, the clients taking ` +
      "turns within each round; the tables show each client's median run by events/s. " +
      (WARMUP_MS > 0
        ? `Every client first warms up for ${WARMUP_MS / 1000} s on the same connection (same loop, same ` +
          "record, then waits until its library reports everything written or acked, and until the receiver " +
          "has all of it); only then do the clock, the CPU counters and the receiver's counts start, so JIT " +
          "compilation and start-up are not what is measured. "
        : "No warm-up (`BENCH_WARMUP_MS=0`): JIT compilation and start-up are inside the measured time. "),
    "",
    "Settings: ForwardSink with its defaults (PackedForward, EventTime); FluentClient with " +
      '`eventMode: "PackedForward"`, `milliseconds: true` (EventTime); fluent-logger with ' +
      '`eventMode: "PackedForward"` (integer-second times, its only batching mode). The producer loop emits ' +
      "1000 small (or 50 uWSGI) events, then yields to the event loop; for ForwardSink it waits for `drain` " +
      "when `send` returns false. The disk rows are ForwardSink with `bufferPath` in a fresh directory of the " +
      "machine's temp dir (acks off, `durability` as named, `fsync: true` on the last), in the same rounds.",
    "",
    ...sections,
    "## Targets",
    "",
    "Each ratio is taken within one round (the clients run back to back) and the median over the rounds is " +
      "reported, so a change in machine load between rounds cancels out. When other work shares the cores (see " +
      "the load average above) the per-round ratios still spread widely; the client-CPU-per-event ratio, which " +
      "counts work rather than time, moves much less and shows what the clients cost when neither is starved.",
    "",
    "| what | median | per round | target | |",
    "| --- | ---: | ---: | ---: | --- |",
    ...summary,
    "",
    eventLoop,
    source,
    sectionsOfOtherScripts(file),
  ].join("\n");
  const config = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(doc.trimEnd() + "\n", { ...config, parser: "markdown" }));
  console.log(`\n${summary.join("\n")}\nwrote docs/benchmarks.md in ${minutes} min`);
}

/** Sections of docs/benchmarks.md that other scripts write (bench/loggers.ts, bench/peers.ts by hand): kept as they are. */
const SECTIONS_OF_OTHER_SCRIPTS = ["## Logger transports", "## Against real servers"];

/** The current text of those sections in `file`, each from its heading to the next `## ` heading. */
function sectionsOfOtherScripts(file: string): string {
  if (!existsSync(file)) return "";
  const doc = readFileSync(file, "utf8");
  const kept: string[] = [];
  for (const heading of SECTIONS_OF_OTHER_SCRIPTS) {
    const start = doc.indexOf(`\n${heading}\n`);
    if (start < 0) continue;
    const next = doc.indexOf("\n## ", start + heading.length + 2);
    kept.push(doc.slice(start + 1, next < 0 ? undefined : next + 1).trimEnd(), "");
  }
  return kept.join("\n");
}

/** The commit measured: BENCH_COMMIT, or git's HEAD (marked when the working tree differs from it). */
function commit(): string {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return dirty ? `${head} + uncommitted changes in src/` : head;
  } catch {
    return "unknown";
  }
}

function recordTitle(record: RecordName): string {
  return record === "small" ? "Small log line (~100 bytes)" : "uWSGI stats document (big-t1.json)";
}

await main();
