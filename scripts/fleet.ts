/**
 * A fleet against one name: SINKS sinks (in PROCESSES child processes) send to the Forward receivers behind
 * `aggregators.test`, served by a real dnsmasq; after WARMUP_S a fourth address is added to the name, and the
 * script reports how soon the new receiver's share of the traffic reaches 20–30 %.
 *
 *   node --import tsx scripts/fleet.ts          # SINKS=300 PROCESSES=3 REFRESH_MS=5000 RATE=10 (events/s per sink)
 *
 * Needs dnsmasq (Debian: dnsmasq-base). Loopback only: receivers on 127.0.0.2–127.0.0.5.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ForwardSink } from "../src/index.js";
import { startDnsmasq } from "../test/helpers/dnsmasq.js";
import { freePort } from "../test/helpers/free-port.js";
import { forwardReceiver } from "../test/helpers/misbehaving-servers.js";

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const SINKS = env("SINKS", 300);
const PROCESSES = env("PROCESSES", 3);
const REFRESH_MS = env("REFRESH_MS", 5000);
const RATE = env("RATE", 10);
const WARMUP_S = env("WARMUP_S", 10);
const WATCH_S = env("WATCH_S", 20);
const NAME = "aggregators.test";

interface SinksJob {
  sinks: number;
  port: number;
  dns: string;
}

/** A child: `job.sinks` sinks, each sending RATE events a second until told to stop, then flushing. */
async function runSinks(job: SinksJob): Promise<void> {
  const sinks = Array.from(
    { length: job.sinks },
    () =>
      new ForwardSink({
        servers: [{ host: NAME, port: job.port }],
        dns: { servers: [job.dns], refreshMs: REFRESH_MS },
        requireAck: true,
        batch: { maxDelayMs: 100 },
      }),
  );
  let errors = 0;
  for (const s of sinks) s.on("serverError", () => errors++);
  let seq = 0;
  const timer = setInterval(() => {
    for (const s of sinks) s.send("fleet.event", { seq: seq++ });
  }, 1000 / RATE);
  await once(process, "message");
  clearInterval(timer);
  await Promise.all(sinks.map((s) => s.flush()));
  const dropped = sinks.reduce((n, s) => n + s.stats().dropped, 0);
  await Promise.all(sinks.map((s) => s.close({ timeoutMs: 5000 })));
  process.send!({ sent: seq, dropped, errors });
  process.disconnect();
}

async function main(): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  const t = { after: (fn: () => Promise<void>) => void stops.push(fn) };
  const port = await freePort();
  const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
  const receivers = await Promise.all(hosts.map((host) => forwardReceiver({ host, idField: "none" }, port)));
  const dns = await startDnsmasq(t, { [NAME]: hosts.slice(0, 3) }, [], Math.ceil(REFRESH_MS / 1000));
  const children: ChildProcess[] = [];
  const per = Math.ceil(SINKS / PROCESSES);
  for (let i = 0; i < PROCESSES; i++) {
    const child = fork(fileURLToPath(import.meta.url), ["sinks"], { execArgv: ["--import", "tsx"] });
    child.send({ sinks: Math.min(per, SINKS - i * per), port, dns: dns.server } satisfies SinksJob);
    children.push(child);
  }
  console.log(
    `${SINKS} sinks in ${PROCESSES} processes, ${RATE} events/s each, refreshMs ${REFRESH_MS}; ${NAME} = 3 addresses`,
  );
  await sleep(WARMUP_S * 1000);
  const counts = () => receivers.map((r) => r.events.length);
  await dns.setHosts({ [NAME]: hosts });
  const addedAt = Date.now();
  console.log("added 127.0.0.5 to the name; the new receiver's share of each second's events:");
  let last = counts();
  let reached: number | undefined;
  const shares: string[] = [];
  for (let s = 1; s <= WATCH_S; s++) {
    await sleep(1000);
    const now = counts();
    const got = now.map((n, i) => n - last[i]!);
    last = now;
    const total = got.reduce((x, y) => x + y, 0);
    const share = total === 0 ? 0 : (100 * got[3]!) / total;
    shares.push(`${s}s ${share.toFixed(1)}%`);
    if (reached === undefined && share >= 20 && share <= 30) reached = Date.now() - addedAt;
  }
  console.log(shares.join(", "));
  for (const child of children) child.send("stop");
  const results = await Promise.all(
    children.map((c) =>
      once(c, "message").then(([m]) => m as { sent: number; dropped: number; errors: number }),
    ),
  );
  await sleep(500);
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const arrived = receivers.reduce((n, r) => n + r.events.length, 0);
  console.log(
    `share 20–30 % reached ${reached === undefined ? "never" : `${reached} ms`} after the address was added ` +
      `(refreshMs ${REFRESH_MS}); ${sent} events sent, ${arrived} arrived, ` +
      `${results.reduce((n, r) => n + r.dropped, 0)} dropped, ${results.reduce((n, r) => n + r.errors, 0)} serverErrors`,
  );
  await Promise.all(receivers.map((r) => r.close()));
  for (const stop of stops) await stop();
  if (reached === undefined || arrived < sent) process.exitCode = 1;
}

if (process.argv[2] === "sinks") {
  process.once("message", (job) => void runSinks(job as SinksJob));
} else {
  await main();
}
