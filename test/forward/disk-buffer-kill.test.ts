import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startFluentServer, type FluentPeer } from "../helpers/forward-fluent.js";

const PRODUCER = fileURLToPath(new URL("../helpers/disk-buffer-producer.ts", import.meta.url));
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

/** Kills and restarts a producer `kills` times on one directory, then drains it; checks loss and duplicates. */
async function killRuns(
  t: { after: (fn: () => void) => void },
  durability: "frame" | "event",
  kills: number,
  seed: number,
  serverDownAtKill: (i: number) => boolean,
): Promise<void> {
  const dir = cliTempDir(t, "disk-buffer-kill-");
  const random = seeded(seed);
  let peer: FluentPeer | undefined = await startFluentServer();
  const port = peer.port;
  const seen = new Map<number, number>();
  const count = (p: FluentPeer): void => {
    p.server.on("entry", (_tag: string, _time: unknown, record: { seq: number }) =>
      seen.set(record.seq, (seen.get(record.seq) ?? 0) + 1),
    );
  };
  count(peer);
  const checks: { start: number; lastSent: number; maxInFlight: number; down: boolean }[] = [];
  try {
    for (let i = 0; i < kills; i++) {
      const start = (i + 1) * 1_000_000;
      const run = produce({ port, dir, durability, start, count: 20_000 });
      await run.waitLines(2 + Math.floor(random() * 30));
      const down = serverDownAtKill(i);
      if (down) {
        await peer!.close();
        peer = undefined;
        await run.waitLines(run.lines + 5 + Math.floor(random() * 20));
      }
      run.child.kill("SIGKILL");
      await run.exited;
      checks.push({ start, lastSent: run.lastSent, maxInFlight: run.maxInFlight, down });
      if (peer === undefined) {
        peer = await startFluentServer({ listenOptions: { port, host: "127.0.0.1" } });
        count(peer);
      }
    }
    const drain = produce({ port, dir, durability, start: 0, count: 0 });
    await drain.exited;
    assert.equal(drain.child.exitCode, 0);
  } finally {
    await peer?.close();
  }
  let duplicates = 0;
  let bound = 0;
  for (const { start, lastSent, maxInFlight, down } of checks) {
    const missing: number[] = [];
    for (let seq = start; seq <= lastSent; seq++) if (!seen.has(seq)) missing.push(seq);
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
}

test('durability "frame": SIGKILLed at random points and restarted, a producer loses at most its open batch, and duplicates only what was in flight', async (t) => {
  await killRuns(t, "frame", 5, 22, (i) => i % 3 === 2);
});

test('durability "event": SIGKILLed at random points and restarted, every event whose send() returned arrives', async (t) => {
  await killRuns(t, "event", 5, 23, (i) => i % 3 === 2);
});
