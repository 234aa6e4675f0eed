/**
 * `npm run bench:loggers` (and the end of `npm run bench`): pino and winston, each with this package's transport
 * and with its rival (pino-fluentd; fluent-logger's winston transport), same lines, same run. Every app and the
 * receiver run in their own process; only lines the receiver decoded count. Writes the "Logger transports"
 * section of docs/benchmarks.md (the rest of the page is bench/run.ts's).
 */
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import type { AppReport, LoggerJob, LoggerSetup } from "./logger-app.js";
import type { ReceiverResult } from "./receiver.js";
import { median } from "./median.js";

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const LINES = Number(process.env.BENCH_LOGGER_LINES ?? 100_000);
const WARMUP_LINES = Number(process.env.BENCH_LOGGER_WARMUP_LINES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_LOGGER_ROUNDS ?? 3);
const DOC = here("../docs/benchmarks.md");
const SECTION = "## Logger transports";
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

const SETUPS: LoggerSetup[] = [
  "pino + uwsgi-forward/pino",
  "pino + pino-fluentd (worker)",
  "pino + pino-fluentd (stdout pipe)",
  "winston + uwsgi-forward/winston",
  "winston + fluent-logger",
];
/** Ours against each rival, ratio taken within each round. */
const PAIRS: [LoggerSetup, LoggerSetup][] = [
  ["pino + uwsgi-forward/pino", "pino + pino-fluentd (worker)"],
  ["pino + uwsgi-forward/pino", "pino + pino-fluentd (stdout pipe)"],
  ["winston + uwsgi-forward/winston", "winston + fluent-logger"],
];

interface Run {
  setup: LoggerSetup;
  arrived: number;
  linesPerSec: number;
  loopLinesPerSec: number;
  mainCpuUsPerLine: number;
  allCpuUsPerLine: number;
}

async function message<T>(proc: ChildProcess, type: string): Promise<T> {
  for (;;) {
    const [msg] = (await once(proc, "message")) as [{ type: string }];
    if (msg.type === type) return msg as T;
  }
}

/** User + system CPU of a whole process (every thread), µs, from /proc. */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

async function runOne(setup: LoggerSetup): Promise<Run> {
  const tsx = { execArgv: ["--import", "tsx"] };
  const receiver = fork(here("./receiver.ts"), [], {
    ...tsx,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const children: ChildProcess[] = [receiver];
  try {
    const { port } = await message<{ port: number }>(receiver, "ready");
    const job: LoggerJob = {
      setup,
      port,
      warmupLines: WARMUP_LINES,
      lines: LINES,
      clockTicksPerSecond: CLOCK_TICKS,
    };
    const piped = setup === "pino + pino-fluentd (stdout pipe)";
    const app = fork(here("./logger-app.ts"), [JSON.stringify(job)], {
      ...tsx,
      stdio: ["ignore", piped ? "pipe" : "inherit", "inherit", "ipc"],
    });
    children.push(app);
    let pipe: ChildProcess | undefined;
    if (piped) {
      const cli = createRequire(import.meta.url).resolve("pino-fluentd/pino-fluentd.js");
      pipe = spawn(
        process.execPath,
        [cli, "-H", "127.0.0.1", "-p", String(port), "-t", "bench.logger", "-l", "info"],
        {
          stdio: ["pipe", "inherit", "inherit"],
        },
      );
      children.push(pipe);
      app.stdout!.pipe(pipe.stdin!);
    }
    const warm = await message<{ lines: number }>(app, "warm");
    receiver.send({ type: "reset", events: warm.lines, timeoutMs: 120_000 });
    await message(receiver, "reset");
    const pipeCpu0 = pipe ? processCpuUs(pipe.pid!) : 0;
    app.send({ type: "go" });
    const logged = await message<Extract<AppReport, { type: "logged" }>>(app, "logged");
    const gotP = message<ReceiverResult>(receiver, "result");
    receiver.send({ type: "expect", events: LINES, timeoutMs: 120_000 });
    const got = await gotP;
    const pipeCpu = pipe ? processCpuUs(pipe.pid!) - pipeCpu0 : 0;
    const resultP = message<Extract<AppReport, { type: "result" }>>(app, "result");
    app.send({ type: "measure" });
    const result = await resultP;
    const seconds = Number(BigInt(got.lastEventNs) - BigInt(logged.startNs)) / 1e9;
    return {
      setup,
      arrived: got.events,
      linesPerSec: got.events / seconds,
      loopLinesPerSec: LINES / (Number(logged.loopNs) / 1e9),
      mainCpuUsPerLine: result.mainCpuUs / LINES,
      allCpuUsPerLine: (result.processCpuUs + pipeCpu) / LINES,
    };
  } finally {
    for (const child of children) child.kill("SIGKILL");
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

async function main(): Promise<void> {
  const started = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const byRound: Run[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runs: Run[] = [];
    for (const setup of SETUPS) {
      const run = await runOne(setup);
      console.log(
        `round ${round + 1} ${setup.padEnd(34)} ${fmt(run.linesPerSec).padStart(9)} lines/s delivered, ` +
          `main thread ${run.mainCpuUsPerLine.toFixed(2)} µs/line, process ${run.allCpuUsPerLine.toFixed(2)} µs/line, ` +
          `arrived ${run.arrived}/${LINES}`,
      );
      runs.push(run);
    }
    byRound.push(runs);
  }
  const loadAtEnd = os.loadavg()[0]!;
  const runsOf = (setup: LoggerSetup): Run[] => byRound.map((runs) => runs.find((r) => r.setup === setup)!);
  const medianRun = (setup: LoggerSetup): Run => {
    const runs = [...runsOf(setup)].sort((a, b) => a.linesPerSec - b.linesPerSec);
    return runs[Math.floor(runs.length / 2)]!;
  };
  const rows = SETUPS.map((setup) => {
    const r = medianRun(setup);
    return `| ${setup} | ${fmt(r.linesPerSec)} | ${fmt(r.loopLinesPerSec)} | ${r.mainCpuUsPerLine.toFixed(2)} | ${r.allCpuUsPerLine.toFixed(2)} | ${runsOf(
      setup,
    )
      .map((x) => x.arrived)
      .join(", ")} / ${LINES} |`;
  });
  const ratios = PAIRS.flatMap(([ours, rival]) => {
    const a = runsOf(ours);
    const b = runsOf(rival);
    const rate = a.map((r, i) => r.linesPerSec / b[i]!.linesPerSec);
    const cpu = a.map((r, i) => b[i]!.mainCpuUsPerLine / r.mainCpuUsPerLine);
    const list = (xs: number[]): string => xs.map((x) => `${x.toFixed(2)}×`).join(", ");
    return [
      `| ${ours} ÷ ${rival}: lines/s delivered | ${median(rate).toFixed(2)}× | ${list(rate)} |`,
      `| ${rival} ÷ ${ours}: main-thread CPU per line | ${median(cpu).toFixed(2)}× | ${list(cpu)} |`,
    ];
  });
  const section = [
    SECTION,
    "",
    `Generated by \`npm run bench:loggers\` (bench/loggers.ts, also the last step of \`npm run bench\`) on ${started.toISOString()}; Node ${process.version}, ${os.cpus()[0]?.model ?? "unknown"}, ${os.cpus().length} cores. Load average (1 min) at start / end: ${loadAtStart.toFixed(2)} / ${loadAtEnd.toFixed(2)} — the machine is shared, so other processes competed for the cores and every figure is lower than on an idle machine; the ratios are taken within each round.`,
    "",
    `Each app logs ${fmt(WARMUP_LINES)} warm-up lines (the receiver waits for all of them), then ${fmt(LINES)} measured lines (\`{ id, user, path }\` and a message) as fast as the logger takes them, yielding to the event loop every 1,000 lines; ${ROUNDS} rounds, the setups taking turns within each round, each run a fresh app process and a fresh receiver process (bench/receiver.ts decodes every frame and counts events). Lines/s delivered = lines arrived ÷ (last arrival − first measured line). Main-thread CPU is the app's main thread only (from /proc, user + system, over the logging and until the receiver has every line): what the logger costs the app's event loop. Process CPU adds every thread of the app (pino's worker, ForwardTransport's worker) and, for the stdout pipe, the pino-fluentd process. Settings: both transports with their defaults (no acks, PackedForward, EventTime); pino-fluentd 0.2.4 (fluent-logger underneath, no acks, integer-second times; \`trace-level\` set to \`info\`, as it sends only \`error\` and above by default) as a pino.transport target in a worker, and as documented, \`node app | pino-fluentd\`; fluent-logger 3.4.1's \`support.winstonTransport()\`. The tables show each setup's median run by lines/s.`,
    "",
    "| setup | lines/s delivered | lines/s taken by the logger | main-thread CPU µs/line | process CPU µs/line | arrived / logged (each round) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    "| ratio | median | per round |",
    "| --- | ---: | ---: |",
    ...ratios,
    "",
    "With pino both worker transports cost the main thread about the same (pino's own serialization and the copy into thread-stream's buffer); the difference is what the worker does with each line, and how many lines per second reach the server. fluent-logger's winston transport does its encoding and socket writes on the main thread.",
    "",
  ].join("\n");
  const doc = readFileSync(DOC, "utf8");
  const start = doc.indexOf(`\n${SECTION}\n`);
  let next = start < 0 ? -1 : doc.indexOf("\n## ", start + SECTION.length + 2);
  if (next < 0) next = doc.length;
  const updated =
    start < 0
      ? `${doc.trimEnd()}\n\n${section}`
      : `${doc.slice(0, start + 1)}${section}\n${doc.slice(next + 1)}`;
  writeFileSync(DOC, await prettier.format(updated, { parser: "markdown", printWidth: 110 }));
  console.log(`wrote the "${SECTION.slice(3)}" section of docs/benchmarks.md`);
}

await main();
