/**
 * One logger benchmark app, run as its own process: a logger and a transport (from `argv[2]`, a LoggerJob),
 * logging numbered lines as fast as the logger takes them. Reports to the parent over IPC; the parent kills it.
 * Main-thread CPU is read from /proc (the thread whose id is the pid); process CPU adds every worker thread.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { setImmediate as yieldToIo } from "node:timers/promises";
import pino from "pino";
import winston from "winston";
import { ForwardTransport } from "uwsgi-forward/winston";

/** The logger + transport pairs the benchmark compares. */
export type LoggerSetup =
  | "pino + uwsgi-forward/pino"
  | "pino + pino-fluentd (worker)"
  | "pino + pino-fluentd (stdout pipe)"
  | "winston + uwsgi-forward/winston"
  | "winston + fluent-logger";

/** What the parent asks for (JSON in argv[2]). */
export interface LoggerJob {
  setup: LoggerSetup;
  port: number;
  warmupLines: number;
  lines: number;
  clockTicksPerSecond: number;
}

/** Messages to the parent. */
export type AppReport =
  | { type: "warm"; lines: number }
  | { type: "logged"; startNs: string; loopNs: string }
  | { type: "result"; mainCpuUs: number; processCpuUs: number };

const job = JSON.parse(process.argv[2]!) as LoggerJob;
const require = createRequire(import.meta.url);
const TAG = "bench.logger";
const CHUNK = 1000;

/** User + system CPU of the main thread so far, in µs (Linux: /proc/self/task/<pid>/stat). */
function mainThreadCpuUs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / job.clockTicksPerSecond;
}

function processCpuUs(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

type LogLine = (i: number) => void;

function makeLogger(): LogLine {
  switch (job.setup) {
    case "pino + uwsgi-forward/pino": {
      const logger = pino(
        pino.transport({ target: "uwsgi-forward/pino", options: { port: job.port, tag: TAG } }),
      );
      return (i) => logger.info({ id: i, user: "u1", path: "/api/v1/items" }, "line");
    }
    case "pino + pino-fluentd (worker)": {
      const target = fileURLToPath(new URL("./pino-fluentd-target.mjs", import.meta.url));
      const logger = pino(
        pino.transport({
          target,
          options: { host: "127.0.0.1", port: job.port, tag: TAG, "trace-level": "info" },
          worker: { autoEnd: false },
        }),
      );
      return (i) => logger.info({ id: i, user: "u1", path: "/api/v1/items" }, "line");
    }
    case "pino + pino-fluentd (stdout pipe)": {
      const logger = pino(pino.destination({ fd: 1, sync: false }));
      return (i) => logger.info({ id: i, user: "u1", path: "/api/v1/items" }, "line");
    }
    case "winston + uwsgi-forward/winston": {
      const logger = winston.createLogger({
        transports: [new ForwardTransport({ port: job.port, tag: TAG })],
      });
      return (i) => logger.info("line", { id: i, user: "u1", path: "/api/v1/items" });
    }
    case "winston + fluent-logger": {
      const fluent = require("fluent-logger") as {
        support: { winstonTransport: () => new (tag: string, options: object) => winston.transport };
      };
      const FluentTransport = fluent.support.winstonTransport();
      const logger = winston.createLogger({
        transports: [new FluentTransport(TAG, { host: "127.0.0.1", port: job.port, timeout: 3.0 })],
      });
      return (i) => logger.info("line", { id: i, user: "u1", path: "/api/v1/items" });
    }
  }
}

async function logLines(log: LogLine, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    log(i);
    if ((i - from) % CHUNK === CHUNK - 1) await yieldToIo();
  }
}

function nextMessage(type: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string }): void => {
      if (msg.type !== type) return;
      process.off("message", onMessage);
      resolve();
    };
    process.on("message", onMessage);
  });
}

function report(message: AppReport): void {
  process.send!(message);
}

const log = makeLogger();
const go = nextMessage("go");
await logLines(log, 0, job.warmupLines);
report({ type: "warm", lines: job.warmupLines });
await go;
const measured = nextMessage("measure");
const cpu0 = { main: mainThreadCpuUs(), all: processCpuUs() };
const startNs = process.hrtime.bigint();
await logLines(log, job.warmupLines, job.warmupLines + job.lines);
report({
  type: "logged",
  startNs: startNs.toString(),
  loopNs: (process.hrtime.bigint() - startNs).toString(),
});
await measured;
report({ type: "result", mainCpuUs: mainThreadCpuUs() - cpu0.main, processCpuUs: processCpuUs() - cpu0.all });
