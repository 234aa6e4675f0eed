/**
 * Throughput against real servers, acks on: how many events per second one real Fluentd, one real Fluent Bit and
 * two Fluentd behind one sink acknowledge, ForwardSink against @fluent-org/logger's FluentClient, in the same run.
 * Needs the peers (`UWSGI_FORWARD_PEERS=/path/to/shared/peers npm run bench:peers`); the figures go to
 * docs/benchmarks.md ("Against real servers"). The server's CPU time is measured too: it says who is the limit.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { ForwardSink } from "../src/index.js";
import { freePort } from "../test/helpers/forward-receiver.js";
import { closeSink } from "../test/interop/helpers/close.js";
import {
  peersDir,
  PEERS_ENV,
  startFluentBit,
  startFluentd,
  type Peer,
} from "../test/interop/helpers/peers.js";
import { smallRecord } from "./records.js";

const EVENTS = Number(process.env.BENCH_PEER_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_PEER_ROUNDS ?? 3);
const PER_TICK = 1000;
const TAG = "bench.peers";

type Client = "ForwardSink" | "FluentClient";

interface Run {
  client: Client;
  target: string;
  eventsPerSec: number;
  /** Server CPU time over the run's wall time (1.0 = one core busy the whole time), summed over the servers. */
  serverCpu: number;
  clientCpu: number;
}

/** utime + stime of a process, in seconds (from /proc/PID/stat; clock ticks are 100 Hz on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sends EVENTS small records with acks through ForwardSink and resolves when every one was acknowledged. */
async function viaForwardSink(ports: number[]): Promise<void> {
  const sink = new ForwardSink({
    servers: ports.map((port) => ({ host: "127.0.0.1", port })),
    requireAck: true,
  });
  const record = smallRecord();
  let sent = 0;
  while (sent < EVENTS) {
    let writable = true;
    for (let i = 0; i < PER_TICK && sent < EVENTS && writable; i++, sent++) writable = sink.send(TAG, record);
    if (!writable) await new Promise<void>((resolve) => sink.once("drain", () => resolve()));
    else await yieldToIo();
  }
  const { undelivered } = await closeSink(sink, 120_000);
  if (undelivered > 0) throw new Error(`ForwardSink left ${undelivered} unacknowledged`);
}

/** The same with FluentClient (acks on, ack timeout raised so a busy server does not trip it). */
async function viaFluentClient(ports: number[]): Promise<void> {
  const { FluentClient } = await import("@fluent-org/logger");
  const client = new FluentClient(null, {
    eventMode: "PackedForward",
    socket: { host: "127.0.0.1", port: ports[0]! },
    ack: { ackTimeout: 60_000 },
  });
  const record = smallRecord();
  let failed = 0;
  const onError = (): void => void failed++;
  for (let sent = 0; sent < EVENTS;) {
    for (let i = 0; i < PER_TICK && sent < EVENTS; i++, sent++) client.emit(TAG, record).catch(onError);
    await yieldToIo();
  }
  await client.waitForPending();
  await client.disconnect();
  if (failed > 0) throw new Error(`FluentClient: ${failed} events failed`);
}

async function measure(client: Client, target: string, peers: Peer[]): Promise<Run> {
  const cpu0 = peers.map((p) => cpuSeconds(p.pid));
  const own0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const ports = peers.map((p) => p.port);
  await (client === "ForwardSink" ? viaForwardSink(ports) : viaFluentClient(ports));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const own = process.cpuUsage(own0);
  const serverCpu = peers.reduce((sum, p, i) => sum + cpuSeconds(p.pid) - cpu0[i]!, 0);
  return {
    client,
    target,
    eventsPerSec: EVENTS / wall,
    serverCpu: serverCpu / wall,
    clientCpu: (own.user + own.system) / 1e6 / wall,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = peersDir();
  if (dir === undefined) {
    console.log(`bench:peers needs the real peers: set ${PEERS_ENV}=/path/to/shared/peers`);
    return;
  }
  const load0 = os.loadavg();
  const workdir = () => mkdtempSync(path.join(os.tmpdir(), "uwsgi-forward-bench-peers-"));
  const fluentd = await startFluentd({ port: await freePort(), workdir: workdir() });
  const fluentd2 = await startFluentd({ port: await freePort(), workdir: workdir() });
  const fluentBit = await startFluentBit({ port: await freePort(), workdir: workdir() });
  const all = [fluentd, fluentd2, fluentBit];
  const runs: Run[] = [];
  try {
    const targets: [string, Peer[], Client[]][] = [
      ["one Fluentd 1.15.3", [fluentd], ["ForwardSink", "FluentClient"]],
      ["one Fluent Bit 5.1.1", [fluentBit], ["ForwardSink", "FluentClient"]],
      ["two Fluentd, one sink (equal weights)", [fluentd, fluentd2], ["ForwardSink"]],
    ];
    // Warm-up: JIT and both servers' first connections.
    for (const [target, peers, clients] of targets) for (const c of clients) await measure(c, target, peers);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [target, peers, clients] of targets) {
        for (const c of clients) {
          const run = await measure(c, target, peers);
          runs.push(run);
          console.error(
            `round ${round + 1} ${target} ${c}: ${Math.round(run.eventsPerSec)} events/s, server CPU ${run.serverCpu.toFixed(2)}, client CPU ${run.clientCpu.toFixed(2)}`,
          );
        }
      }
    }
  } finally {
    for (const p of all) {
      await p.stop();
      rmSync(p.workdir, { recursive: true, force: true });
    }
  }
  const load1 = os.loadavg();
  const one = (target: string, client: Client) =>
    runs.filter((r) => r.target === target && r.client === client);
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    const key = `${r.target}|${r.client}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const mine = one(r.target, r.client);
    rows.push(
      `| ${r.target} | ${r.client} | ${Math.round(median(mine.map((x) => x.eventsPerSec))).toLocaleString("en-US")} | ${median(mine.map((x) => x.serverCpu)).toFixed(2)} | ${median(mine.map((x) => x.clientCpu)).toFixed(2)} |`,
    );
  }
  const fd = median(one("one Fluentd 1.15.3", "ForwardSink").map((x) => x.eventsPerSec));
  const fdClient = median(one("one Fluentd 1.15.3", "FluentClient").map((x) => x.eventsPerSec));
  const fb = median(one("one Fluent Bit 5.1.1", "ForwardSink").map((x) => x.eventsPerSec));
  const fbClient = median(one("one Fluent Bit 5.1.1", "FluentClient").map((x) => x.eventsPerSec));
  const two = median(one("two Fluentd, one sink (equal weights)", "ForwardSink").map((x) => x.eventsPerSec));
  console.log(
    `${EVENTS.toLocaleString("en-US")} small records per run, acks on, median of ${ROUNDS} rounds after a warm-up round.`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, load average ${load0.map((l) => l.toFixed(2)).join(" ")} before, ${load1.map((l) => l.toFixed(2)).join(" ")} after.`,
  );
  console.log("");
  console.log("| Server | Client | events/s acknowledged | server CPU (cores) | client CPU (cores) |");
  console.log("|---|---|---:|---:|---:|");
  for (const row of rows) console.log(row);
  console.log("");
  console.log(
    `ForwardSink / FluentClient: Fluentd ${(fd / fdClient).toFixed(2)}×, Fluent Bit ${(fb / fbClient).toFixed(2)}×.`,
  );
  console.log(`Two Fluentd / one Fluentd (ForwardSink): ${(two / fd).toFixed(2)}×.`);
}

void main();
