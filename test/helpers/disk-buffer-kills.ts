/**
 * Kill runs of a disk-buffered producer (test/helpers/disk-buffer-producer.ts): SIGKILLed at seeded random points,
 * restarted on the same directory, then drained; checks what the server got for loss and duplicates. The server is
 * any `KillServer` (the in-process FluentServer for the unit suite, a real Fluentd for the interop suite).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cliTempDir } from "./cli-temp.js";

/** The server the producer sends to, as the kill runs drive it. */
export interface KillServer {
  readonly port: number;
  /** Goes down (connections cut, nothing listening), for a kill with the server down. */
  stop(): Promise<void>;
  /** Comes back on the same port. */
  start(): Promise<void>;
  /** How many times each seq arrived, once everything sent has arrived (or stopped arriving). */
  counts(expectedAtLeast: number): Promise<Map<number, number>>;
}

const PRODUCER = fileURLToPath(new URL("./disk-buffer-producer.ts", import.meta.url));
/** The producer's `batch.maxEvents`: the most one open batch can lose. */
const BATCH_EVENTS = 100;

/** mulberry32: the kill points are random, but the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  child: ChildProcess;
  /** Last seq whose send() returned, as printed; -1 before the first line. */
  lastSent: number;
  /** The most frames in flight it printed. */
  maxInFlight: number;
  lines: number;
  waitLines(n: number): Promise<void>;
  exited: Promise<unknown>;
}

function produce(job: { port: number; dir: string; durability: string; start: number; count: number }): Run {
  const child = spawn(process.execPath, ["--import", "tsx", PRODUCER, JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let waiters: { n: number; resolve: () => void }[] = [];
  const run: Run = {
    child,
    lastSent: job.start - 1,
    maxInFlight: 0,
    lines: 0,
    waitLines: (n) =>
      run.lines >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    exited: once(child, "exit"),
  };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const [what, a, b] = line.split(" ");
    if (what === "sent") {
      run.lastSent = Number(a);
      run.maxInFlight = Math.max(run.maxInFlight, Number(b));
    }
    run.lines++;
    waiters = waiters.filter((w) => (run.lines >= w.n ? (w.resolve(), false) : true));
  });
  return run;
}

/**
 * Kills and restarts a producer `kills` times on one directory (the server down at the kills `serverDownAtKill`
 * names, back after the restart), then drains it; asserts that with `"event"` every event whose send() returned
 * arrived, with `"frame"` at most the open batch per kill was lost, and duplicates stayed within the frames in flight.
 */
export async function killRuns(
  t: { after: (fn: () => void) => void },
  server: KillServer,
  durability: "frame" | "event",
  kills: number,
  seed: number,
  serverDownAtKill: (i: number) => boolean,
): Promise<{ lost: number; duplicates: number; bound: number }> {
  const dir = cliTempDir(t, "disk-buffer-kill-");
  const random = seeded(seed);
  const port = server.port;
  const checks: { start: number; lastSent: number; maxInFlight: number; down: boolean }[] = [];
  for (let i = 0; i < kills; i++) {
    const start = (i + 1) * 1_000_000;
    const run = produce({ port, dir, durability, start, count: 999_999 });
    await run.waitLines(2 + Math.floor(random() * 30));
    const down = serverDownAtKill(i);
    if (down) {
      await server.stop();
      await run.waitLines(run.lines + 5 + Math.floor(random() * 20));
    }
    run.child.kill("SIGKILL");
    await run.exited;
    checks.push({ start, lastSent: run.lastSent, maxInFlight: run.maxInFlight, down });
    if (down) await server.start();
  }
  const drain = produce({ port, dir, durability, start: 0, count: 0 });
  await drain.exited;
  assert.equal(drain.child.exitCode, 0);
  const sentAtLeast = checks.reduce((sum, c) => sum + (c.lastSent - c.start + 1), 0);
  const seen = await server.counts(sentAtLeast);
  let lost = 0;
  let duplicates = 0;
  let bound = 0;
  for (const { start, lastSent, maxInFlight, down } of checks) {
    const missing: number[] = [];
    for (let seq = start; seq <= lastSent; seq++) if (!seen.has(seq)) missing.push(seq);
    lost += missing.length;
    if (durability === "event") {
      assert.deepEqual(
        missing,
        [],
        `run from ${start}: every event whose send() returned arrived (down: ${down})`,
      );
    } else {
      assert.ok(
        missing.length <= BATCH_EVENTS,
        `run from ${start}: ${missing.length} lost, at most the open batch (${BATCH_EVENTS} events)`,
      );
    }
    for (let seq = start; seq <= lastSent + BATCH_EVENTS * 2; seq++)
      duplicates += Math.max(0, (seen.get(seq) ?? 0) - 1);
    // Duplicates come only from frames in flight (written, ack not back) at the kill: at most the most it reported,
    // plus the frame being written, of BATCH_EVENTS events each.
    bound += (maxInFlight + 1) * BATCH_EVENTS;
  }
  assert.ok(
    duplicates <= bound,
    `${duplicates} duplicates, at most the frames in flight at the kills (${bound})`,
  );
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.endsWith(".seg")),
    [],
    "everything settled: no segment left",
  );
  return { lost, duplicates, bound };
}
