/**
 * Throughput against real servers, acks on: how many events per second one real Fluentd, one real Fluent Bit and
 * two Fluentd behind one sink acknowledge, ForwardSink against @fluent-org/logger's FluentClient, in the same run.
 * Every run starts only once the servers are idle (they keep writing what they acknowledged for a while). Two
 * Fluentd on a 2-core machine use up its cores, so the pair is also measured with each server held to the same CPU
 * budget (a cgroup quota, as if each had a host of its own): there the servers are the limit and the machine is not.
 * Needs the peers (`UWSGI_FORWARD_PEERS=/path/to/shared/peers npm run bench:peers`); the figures go to
 * docs/benchmarks.md ("Against real servers"). The servers' CPU time is measured too: it says who is the limit.
 */
import { mkdtempSync, rmSync } from "node:fs";
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
import { cpuBudget, type CpuBudget } from "./cpu-budget.js";
import { cpuSeconds, waitUntilIdle } from "./process-cpu.js";
import { smallRecord } from "./records.js";
import { median } from "./median.js";

const EVENTS = Number(process.env.BENCH_PEER_EVENTS ?? 500_000);
const ROUNDS = Number(process.env.BENCH_PEER_ROUNDS ?? 3);
/** Each budgeted Fluentd's share of the machine, in cores. */
const BUDGET = Number(process.env.BENCH_PEER_BUDGET ?? 0.5);
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
  /** With several servers: the share of the events each acknowledged. */
  shares: number[];
}

/** Sends EVENTS small records with acks through ForwardSink and resolves when every one was acknowledged. */
async function viaForwardSink(ports: number[]): Promise<number[]> {
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
  const servers = sink.stats().servers;
  const { undelivered } = await closeSink(sink, 120_000);
  if (undelivered > 0) throw new Error(`ForwardSink left ${undelivered} unacknowledged`);
  const settled = servers.map((s) => s.settledFrames);
  const total = settled.reduce((a, b) => a + b, 0);
  return settled.map((n) => n / total);
}

/**
 * The same with FluentClient: acks on (ack timeout raised so a busy server does not trip it), EventTime like the
 * sink (`milliseconds: true`; without it FluentClient sends whole seconds, which Fluentd decodes more cheaply).
 */
async function viaFluentClient(ports: number[]): Promise<number[]> {
  const { FluentClient } = await import("@fluent-org/logger");
  const client = new FluentClient(null, {
    eventMode: "PackedForward",
    socket: { host: "127.0.0.1", port: ports[0]! },
    milliseconds: true,
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
  return [1];
}

async function measure(client: Client, target: string, peers: Peer[], all: Peer[]): Promise<Run> {
  await waitUntilIdle(all.map((p) => p.pid));
  const cpu0 = peers.map((p) => cpuSeconds(p.pid));
  const own0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const ports = peers.map((p) => p.port);
  const shares = await (client === "ForwardSink" ? viaForwardSink(ports) : viaFluentClient(ports));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const own = process.cpuUsage(own0);
  const serverCpu = peers.reduce((sum, p, i) => sum + cpuSeconds(p.pid) - cpu0[i]!, 0);
  return {
    client,
    target,
    eventsPerSec: EVENTS / wall,
    serverCpu: serverCpu / wall,
    clientCpu: (own.user + own.system) / 1e6 / wall,
    shares,
  };
}

const ONE_FLUENTD = "one Fluentd 1.15.3";
const ONE_FLUENT_BIT = "one Fluent Bit 5.1.1";
const TWO_FLUENTD = "two Fluentd, one sink (equal weights)";
const ONE_BUDGETED = `one Fluentd held to ${BUDGET} core`;
const TWO_BUDGETED = `two Fluentd, each held to ${BUDGET} core, one sink`;

async function main(): Promise<void> {
  const dir = peersDir();
  if (dir === undefined) {
    console.log(`bench:peers needs the real peers: set ${PEERS_ENV}=/path/to/shared/peers`);
    return;
  }
  const load0 = os.loadavg();
  const start = async (): Promise<Peer> =>
    startFluentd({
      port: await freePort(),
      workdir: mkdtempSync(path.join(os.tmpdir(), "uwsgi-forward-bench-peers-")),
    });
  const fluentd = await start();
  const fluentd2 = await start();
  const fluentBit = await startFluentBit({
    port: await freePort(),
    workdir: mkdtempSync(path.join(os.tmpdir(), "uwsgi-forward-bench-peers-")),
  });
  const budgeted = [await start(), await start()];
  const all = [fluentd, fluentd2, fluentBit, ...budgeted];
  const budgets: CpuBudget[] = [];
  let noBudget: string | undefined;
  for (const [i, peer] of budgeted.entries()) {
    const budget = cpuBudget(peer.pid, BUDGET, `fluentd${i}`);
    if (typeof budget === "string") noBudget = budget;
    else budgets.push(budget);
  }
  const runs: Run[] = [];
  try {
    const targets: [string, Peer[], Client[]][] = [
      [ONE_FLUENTD, [fluentd], ["ForwardSink", "FluentClient"]],
      [ONE_FLUENT_BIT, [fluentBit], ["ForwardSink", "FluentClient"]],
      [TWO_FLUENTD, [fluentd, fluentd2], ["ForwardSink"]],
    ];
    if (noBudget === undefined) {
      targets.push([ONE_BUDGETED, [budgeted[0]!], ["ForwardSink", "FluentClient"]]);
      targets.push([TWO_BUDGETED, budgeted, ["ForwardSink"]]);
    } else {
      console.error(`The CPU-budgeted runs are skipped: ${noBudget}.`);
    }
    // Warm-up: JIT and every server's first connections.
    for (const [target, peers, clients] of targets)
      for (const c of clients) await measure(c, target, peers, all);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [target, peers, clients] of targets) {
        for (const c of clients) {
          const run = await measure(c, target, peers, all);
          runs.push(run);
          console.error(
            `round ${round + 1} ${target} ${c}: ${Math.round(run.eventsPerSec)} events/s, server CPU ${run.serverCpu.toFixed(2)}, client CPU ${run.clientCpu.toFixed(2)}`,
          );
        }
      }
    }
  } finally {
    for (const b of budgets) b.release();
    for (const p of all) {
      await p.stop();
      rmSync(p.workdir, { recursive: true, force: true });
    }
  }
  report(runs, load0, noBudget);
}

function report(runs: Run[], load0: number[], noBudget: string | undefined): void {
  const load1 = os.loadavg();
  const of = (target: string, client: Client) =>
    runs.filter((r) => r.target === target && r.client === client);
  const rate = (target: string, client: Client) => median(of(target, client).map((x) => x.eventsPerSec));
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    const key = `${r.target}|${r.client}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const mine = of(r.target, r.client);
    const shares =
      r.shares.length > 1
        ? mine[0]!.shares
            .map((_, i) => `${(100 * median(mine.map((x) => x.shares[i]!))).toFixed(1)} %`)
            .join(" / ")
        : "";
    rows.push(
      `| ${r.target} | ${r.client} | ${Math.round(median(mine.map((x) => x.eventsPerSec))).toLocaleString("en-US")} | ${median(mine.map((x) => x.serverCpu)).toFixed(2)} | ${median(mine.map((x) => x.clientCpu)).toFixed(2)} | ${shares} |`,
    );
  }
  console.log(
    `${EVENTS.toLocaleString("en-US")} small records per run, acks on, median of ${ROUNDS} rounds after a warm-up round; every run starts once the servers are idle.`,
  );
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, load average ${load0.map((l) => l.toFixed(2)).join(" ")} before, ${load1.map((l) => l.toFixed(2)).join(" ")} after.`,
  );
  console.log("");
  console.log(
    "| Server | Client | events/s acknowledged | server CPU (cores) | client CPU (cores) | share per server |",
  );
  console.log("|---|---|---:|---:|---:|---|");
  for (const row of rows) console.log(row);
  console.log("");
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(
    `ForwardSink / FluentClient: Fluentd ${ratio(rate(ONE_FLUENTD, "ForwardSink"), rate(ONE_FLUENTD, "FluentClient"))}, ` +
      `Fluent Bit ${ratio(rate(ONE_FLUENT_BIT, "ForwardSink"), rate(ONE_FLUENT_BIT, "FluentClient"))}.`,
  );
  console.log(
    `Two Fluentd / one Fluentd (ForwardSink): ${ratio(rate(TWO_FLUENTD, "ForwardSink"), rate(ONE_FLUENTD, "ForwardSink"))} unbudgeted` +
      (noBudget === undefined
        ? `, ${ratio(rate(TWO_BUDGETED, "ForwardSink"), rate(ONE_BUDGETED, "ForwardSink"))} with each held to ${BUDGET} core.`
        : ` (budgeted runs skipped: ${noBudget}).`),
  );
}

void main();
