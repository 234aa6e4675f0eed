/**
 * Minutes-long reliability runs of ForwardSink against a receiver in another process (scripts/soak-receiver.ts):
 *
 * - `outage`: the server goes down while the app emits at full speed, ignoring backpressure, for
 *   SOAK_OUTAGE_S seconds (default 120); RSS is sampled all along; then the server comes back.
 * - `cycles`: for SOAK_CYCLES_S seconds (default 120) the app emits as fast as the sink accepts (waiting for
 *   `drain`) while the server is killed every SOAK_CYCLE_EVERY_S seconds (default 10) and restarted
 *   SOAK_DOWN_S seconds later (default 2).
 *
 * - `disk`: the same outage with a disk buffer (`bufferPath` in a temp dir, `durability: "frame"`): the server is
 *   down for SOAK_DISK_OUTAGE_S seconds (default 600) while the app sends SOAK_DISK_RATE events a second (default
 *   10000), with a SOAK_DISK_LIMIT_MB memory limit (default 16) and a SOAK_DISK_LIMIT_GB disk limit (default 2);
 *   nothing may be dropped, everything must arrive once the server is back, and RSS must stay within the memory
 *   limit + 32 MiB of its level before the sink existed.
 *
 * Acks are on; every record carries a unique `id`, so the receiver counts arrivals, duplicates and gaps. The
 * receiver is scripts/soak-receiver.ts, or with SOAK_RECEIVER=fluentd a real Fluentd (UWSGI_FORWARD_PEERS names
 * the peers folder, after its setup.sh), stopped with SIGTERM for the outage and started again on the same port.
 * Usage: `node --import tsx scripts/soak.ts [outage|cycles|all|disk]` (all: outage and cycles) (npm run soak). Prints a markdown summary.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToIo, setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { FluentdReceiver, type Count } from "./soak-fluentd.js";
import { ForwardSink, type ForwardSinkOptions, type OverflowPolicy } from "../src/index.js";

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const OUTAGE_S = env("SOAK_OUTAGE_S", 120);
const CYCLES_S = env("SOAK_CYCLES_S", 120);
const CYCLE_EVERY_S = env("SOAK_CYCLE_EVERY_S", 10);
const DOWN_S = env("SOAK_DOWN_S", 2);
const LIMIT = env("SOAK_LIMIT_MB", 64) * 1024 * 1024;
const OVERFLOW = (process.env.SOAK_OVERFLOW ?? "block") as OverflowPolicy;
const MB = 1024 * 1024;
const DISK_OUTAGE_S = env("SOAK_DISK_OUTAGE_S", 600);
const DISK_RATE = env("SOAK_DISK_RATE", 10_000);
const DISK_MEMORY = env("SOAK_DISK_LIMIT_MB", 16) * MB;
const DISK_LIMIT = env("SOAK_DISK_LIMIT_GB", 2) * 1024 * MB;

/** The Node receiver process (scripts/soak-receiver.ts). */
class NodeReceiver {
  private readonly proc: ChildProcess;
  port = 0;
  constructor() {
    this.proc = fork(fileURLToPath(new URL("./soak-receiver.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
    });
  }
  private async ask<T>(type: string, reply: string): Promise<T> {
    const answer = new Promise<T>((resolve) => {
      const onMessage = (msg: { type: string }): void => {
        if (msg.type !== reply) return;
        this.proc.off("message", onMessage);
        resolve(msg as T);
      };
      this.proc.on("message", onMessage);
    });
    this.proc.send({ type });
    return answer;
  }
  async start(): Promise<void> {
    this.port = (await this.ask<{ port: number }>("start", "listening")).port;
  }
  async stop(): Promise<void> {
    await this.ask("stop", "stopped");
  }
  count(): Promise<Count> {
    return this.ask<Count>("count", "count");
  }
  kill(): void {
    this.proc.kill();
  }
}

/** Where the soak sends: the Node receiver, or a real Fluentd with `SOAK_RECEIVER=fluentd`. */
type Receiver = NodeReceiver | FluentdReceiver;
const RECEIVER = process.env.SOAK_RECEIVER ?? "node";
if (RECEIVER !== "node" && RECEIVER !== "fluentd")
  throw new Error(`SOAK_RECEIVER must be node or fluentd, got ${RECEIVER}`);
/** How the reports name the receiver, and the part of the command that chose it. */
const RECEIVER_TEXT =
  RECEIVER === "fluentd"
    ? {
        name: "a real Fluentd 1.15 (in_forward with acks, every event to a JSON-lines file)",
        env: "SOAK_RECEIVER=fluentd ",
      }
    : { name: "the Node receiver (scripts/soak-receiver.ts, another process)", env: "" };
const newReceiver = (): Receiver => (RECEIVER === "fluentd" ? new FluentdReceiver() : new NodeReceiver());

/** Samples this process's RSS. */
class RssSampler {
  peak = 0;
  private readonly timer = setInterval(() => this.sample(), 100);
  sample(): number {
    const rss = process.memoryUsage.rss();
    this.peak = Math.max(this.peak, rss);
    return rss;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

function record(id: number): Record<string, unknown> {
  return { id, level: "info", msg: "GET /api/v1/items 200", host: "web-1.example", ms: 12.5 };
}

/**
 * A scenario's start: the receiver up, the RSS sampler with its baseline taken before the sink exists, and a sink
 * with acks to the receiver (`options` on top; serverError events are expected and ignored).
 */
async function startScenario(options: ForwardSinkOptions) {
  const receiver = newReceiver();
  await receiver.start();
  const rss = new RssSampler();
  const baseline = rss.sample();
  const sink = new ForwardSink({ port: receiver.port, requireAck: true, ...options });
  sink.on("serverError", () => {});
  return { receiver, rss, baseline, sink };
}

/** The server comes back: how long until everything is acked, then the sink's figures and the receiver's counts. */
async function recover(sink: ForwardSink, receiver: Receiver, rss: RssSampler) {
  await receiver.start();
  const t1 = Date.now();
  await sink.flush();
  const recoverS = (Date.now() - t1) / 1000;
  const stats = sink.stats();
  const report = await sink.close({ timeoutMs: 5000 });
  rss.stop();
  const got = await receiver.count();
  receiver.kill();
  return { recoverS, stats, report, got };
}

const mb = (bytes: number): string => (bytes / MB).toFixed(0);
const n = (x: number): string => x.toLocaleString("en-US");

async function outage(): Promise<string> {
  const { receiver, rss, baseline, sink } = await startScenario({
    bufferLimitBytes: LIMIT,
    overflow: OVERFLOW,
  });
  let id = 0;
  // Warm up with the server up, honouring backpressure, for 5 s.
  const warmEnd = Date.now() + 5000;
  while (Date.now() < warmEnd) {
    if (!sink.send("soak.app", record(id++))) await once(sink, "drain");
    if (id % 1000 === 0) await yieldToIo();
  }
  await sink.flush();
  await receiver.stop();
  const t0 = Date.now();
  const outageEnd = t0 + OUTAGE_S * 1000;
  let peakBuffered = 0;
  let attemptsDuringOutage = 0;
  const timeline: string[] = [];
  let nextMark = t0;
  while (Date.now() < outageEnd) {
    for (let i = 0; i < 1000; i++) sink.send("soak.app", record(id++));
    attemptsDuringOutage += 1000;
    peakBuffered = Math.max(peakBuffered, sink.stats().bufferedBytes);
    if (Date.now() >= nextMark) {
      timeline.push(`${Math.round((Date.now() - t0) / 1000)} s: ${mb(rss.sample())}`);
      nextMark += (OUTAGE_S * 1000) / 6;
    }
    await yieldToIo();
  }
  const rssAtEnd = rss.sample();
  const statsAtEnd = sink.stats();
  const { recoverS, stats, report, got } = await recover(sink, receiver, rss);
  const lost = id - got.unique - stats.dropped;
  console.error(JSON.stringify({ scenario: "outage", id, got, stats, report, rssAtEnd, peak: rss.peak }));
  return [
    `### Server down for ${OUTAGE_S} s while the app emits at full speed`,
    "",
    `Command: \`${RECEIVER_TEXT.env}SOAK_OUTAGE_S=${OUTAGE_S} SOAK_LIMIT_MB=${LIMIT / MB} SOAK_OVERFLOW=${OVERFLOW} npm run soak -- outage\`; ` +
      `acks on, \`bufferLimitBytes\` ${mb(LIMIT)} MiB, \`overflow: "${OVERFLOW}"\`, ~100-byte records; 5 s warm-up with the ` +
      "server up, then the server is killed and the app calls `send()` in a tight loop (yielding every 1000 events, " +
      "ignoring the `false` it returns), then the server comes back.",
    "",
    "| figure | value |",
    "| --- | ---: |",
    `| events sent (calls to \`send\`) | ${n(id)} |`,
    `| … of them during the outage | ${n(attemptsDuringOutage)} |`,
    `| accepted into the buffer (\`stats().accepted\`) | ${n(stats.accepted)} |`,
    `| dropped, counted (\`stats().dropped\`, reason overflow) | ${n(stats.dropped)} |`,
    `| arrived (unique ids at the receiver) | ${n(got.unique)} |`,
    `| duplicates | ${n(got.duplicates)} |`,
    `| lost (emitted − arrived − dropped) | ${n(lost)} |`,
    `| peak \`bufferedBytes\` during the outage | ${mb(peakBuffered)} MiB |`,
    `| RSS before the sink existed | ${mb(baseline)} MiB |`,
    `| RSS at the end of the outage | ${mb(rssAtEnd)} MiB (buffer ${mb(statsAtEnd.bufferedBytes)} MiB) |`,
    `| peak RSS (sampled every 100 ms) | ${mb(rss.peak)} MiB |`,
    `| RSS during the outage (MiB) | ${timeline.join(", ")} |`,
    `| time from the server's return to everything acked | ${recoverS.toFixed(1)} s |`,
    `| close report | delivered ${report.delivered}, undelivered ${report.undeliveredEvents} |`,
    "",
  ].join("\n");
}

async function cycles(): Promise<string> {
  const { receiver, rss, baseline, sink } = await startScenario({
    bufferLimitBytes: LIMIT,
    overflow: OVERFLOW,
    reconnect: { minDelayMs: 200, maxDelayMs: 2000 },
  });
  let disconnects = 0;
  sink.on("disconnect", () => disconnects++);
  let id = 0;
  let running = true;
  let kills = 0;
  const killer = (async () => {
    const end = Date.now() + CYCLES_S * 1000;
    while (Date.now() + CYCLE_EVERY_S * 1000 <= end) {
      await sleep(CYCLE_EVERY_S * 1000 - DOWN_S * 1000);
      await receiver.stop();
      kills++;
      await sleep(DOWN_S * 1000);
      await receiver.start();
    }
    await sleep(Math.max(0, end - Date.now()));
    running = false;
  })();
  const t0 = Date.now();
  while (running) {
    if (!sink.send("soak.app", record(id++))) await once(sink, "drain");
    if (id % 1000 === 0) await yieldToIo();
  }
  await killer;
  const emitS = (Date.now() - t0) / 1000;
  await sink.flush();
  const stats = sink.stats();
  const report = await sink.close({ timeoutMs: 5000 });
  rss.stop();
  const got = await receiver.count();
  receiver.kill();
  const lost = id - got.unique - stats.dropped;
  console.error(JSON.stringify({ scenario: "cycles", id, got, stats, report, peak: rss.peak }));
  return [
    `### ${kills} kill/restart cycles in ${CYCLES_S} s while the app emits as fast as the sink accepts`,
    "",
    `Command: \`${RECEIVER_TEXT.env}SOAK_CYCLES_S=${CYCLES_S} SOAK_CYCLE_EVERY_S=${CYCLE_EVERY_S} SOAK_DOWN_S=${DOWN_S} npm run soak -- cycles\`; ` +
      `acks on, \`bufferLimitBytes\` ${mb(LIMIT)} MiB, \`overflow: "${OVERFLOW}"\`; every ${CYCLE_EVERY_S} s the receiver ` +
      `process closes every connection without acking what it has not acked yet, stays down ${DOWN_S} s, and listens ` +
      "again on the same port; the app waits for `drain` whenever `emit()` returns false.",
    "",
    "| figure | value |",
    "| --- | ---: |",
    `| events emitted | ${n(id)} (${n(Math.round(id / emitS))}/s on average, outages included) |`,
    `| arrived (unique ids) | ${n(got.unique)} |`,
    `| duplicates | ${n(got.duplicates)} |`,
    `| dropped | ${n(stats.dropped)} |`,
    `| lost (emitted − arrived − dropped) | ${n(lost)} |`,
    `| re-sent by the sink (\`stats().retried\`) | ${n(stats.retried)} |`,
    `| disconnects seen / connections accepted | ${disconnects} / ${got.connections} |`,
    `| RSS before the sink existed / peak | ${mb(baseline)} / ${mb(rss.peak)} MiB |`,
    `| close report | delivered ${report.delivered}, undelivered ${report.undeliveredEvents} |`,
    "",
  ].join("\n");
}

/** Bytes of the files in `dir`. */
function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(path.join(dir, name)).size;
  return total;
}

async function diskOutage(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "soak-disk-"));
  const { receiver, rss, baseline, sink } = await startScenario({
    bufferLimitBytes: DISK_MEMORY,
    bufferPath: dir,
    diskLimitBytes: DISK_LIMIT,
    overflow: "dropNewest",
  });
  let bufferErrors = 0;
  sink.on("bufferError", () => bufferErrors++);
  let id = 0;
  for (let i = 0; i < 10_000; i++) sink.send("soak.app", record(id++));
  await sink.flush();
  await receiver.stop();
  const t0 = Date.now();
  const outageEnd = t0 + DISK_OUTAGE_S * 1000;
  let peakDisk = 0;
  const timeline: string[] = [];
  let nextMark = t0;
  // 100 events every 10 ms: DISK_RATE a second, evenly (the clock decides how many are due).
  while (Date.now() < outageEnd) {
    const due = Math.floor(((Date.now() - t0) / 1000) * DISK_RATE) + 10_000;
    while (id < due) sink.send("soak.app", record(id++));
    if (Date.now() >= nextMark) {
      peakDisk = Math.max(peakDisk, diskBytes(dir));
      timeline.push(`${Math.round((Date.now() - t0) / 1000)} s: ${mb(rss.sample())}`);
      nextMark += (DISK_OUTAGE_S * 1000) / 10;
    }
    await sleep(10);
  }
  peakDisk = Math.max(peakDisk, diskBytes(dir));
  const rssAtEnd = rss.sample();
  const statsAtEnd = sink.stats();
  const { recoverS, stats, report, got } = await recover(sink, receiver, rss);
  const leftOnDisk = readdirSync(dir).filter((name) => name.endsWith(".seg")).length;
  rmSync(dir, { recursive: true, force: true });
  const lost = id - got.unique - stats.dropped;
  const bound = DISK_MEMORY + 32 * MB;
  console.error(
    JSON.stringify({ scenario: "disk", id, got, stats, report, rssAtEnd, peak: rss.peak, peakDisk }),
  );
  return [
    `### Server down for ${DISK_OUTAGE_S} s at ${n(DISK_RATE)} events/s with a disk buffer`,
    "",
    `Command: \`${RECEIVER_TEXT.env}SOAK_DISK_OUTAGE_S=${DISK_OUTAGE_S} SOAK_DISK_RATE=${DISK_RATE} SOAK_DISK_LIMIT_MB=${DISK_MEMORY / MB} ` +
      `SOAK_DISK_LIMIT_GB=${DISK_LIMIT / 1024 / MB} npm run soak -- disk\`; acks on, \`bufferPath\` in a temp dir, ` +
      `\`durability: "frame"\`, \`bufferLimitBytes\` ${mb(DISK_MEMORY)} MiB, \`diskLimitBytes\` ${mb(DISK_LIMIT)} MiB, ` +
      `\`overflow: "dropNewest"\` (so that any drop shows), ~100-byte records; the server: ${RECEIVER_TEXT.name}.`,
    "",
    "| figure | value |",
    "| --- | ---: |",
    `| events sent | ${n(id)} |`,
    `| dropped (\`stats().dropped\`) | ${n(stats.dropped)} |`,
    `| arrived (unique ids) / duplicates | ${n(got.unique)} / ${n(got.duplicates)} |`,
    `| lost (sent − arrived − dropped) | ${n(lost)} |`,
    `| \`bufferError\` events | ${bufferErrors} |`,
    `| buffered at the end of the outage | ${n(statsAtEnd.bufferedEvents)} events, ${mb(statsAtEnd.bufferedBytes)} MiB |`,
    `| peak disk use (files in bufferPath) | ${mb(peakDisk)} MiB |`,
    `| RSS before the sink existed / at the end of the outage / peak | ${mb(baseline)} / ${mb(rssAtEnd)} / ${mb(rss.peak)} MiB |`,
    `| peak RSS − RSS before (bound: memory limit + 32 MiB = ${mb(bound)} MiB) | ${mb(rss.peak - baseline)} MiB: ${rss.peak - baseline <= bound ? "within" : "**over**"} |`,
    `| RSS during the outage (MiB) | ${timeline.join(", ")} |`,
    `| time from the server's return to everything acked | ${recoverS.toFixed(1)} s |`,
    `| segments left after close | ${leftOnDisk} |`,
    `| close report | delivered ${report.delivered}, undelivered ${report.undeliveredEvents} |`,
    "",
  ].join("\n");
}

const which = process.argv[2] ?? "all";
const parts: string[] = [];
if (which === "outage" || which === "all") parts.push(await outage());
if (which === "cycles" || which === "all") parts.push(await cycles());
if (which === "disk") parts.push(await diskOutage());
console.log(`Node ${process.version}, ${new Date().toISOString()}\n\n${parts.join("\n")}`);
