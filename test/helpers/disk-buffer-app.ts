/**
 * The app of the kill runs (test/helpers/disk-buffer-kills.ts): test/helpers/disk-buffer-producer.ts as a child
 * process, sending sequence-numbered events (`{ seq }`, tag `kill.test`); run `i` numbers its events from
 * `(i + 1) * 1,000,000`, so every seq names one event of one run.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { KillProcess, KillRun } from "./disk-buffer-kills.js";

const PRODUCER = fileURLToPath(new URL("./disk-buffer-producer.ts", import.meta.url));
/** The producer's `batch.maxEvents`: one open batch holds at most this many events, one frame too. */
const BATCH_EVENTS = 100;

/** Runs the producer with `job`; `onLine` gets each line it prints; `exited` resolves with its exit code. */
function produce(
  job: { port: number; dir: string; durability: string; start: number; count: number },
  onLine: (line: string) => void,
): { kill: () => void; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", PRODUCER, JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", onLine);
  // Gone, and every line it printed read.
  const exited = Promise.all([once(child, "exit"), once(lines, "close")]).then(
    ([[code]]) => code as number | null,
  );
  return { kill: () => child.kill("SIGKILL"), exited };
}

/** The app sending to `port` with `durability`, as a KillProcess. */
export function appProcess(port: number, durability: "frame" | "event"): KillProcess {
  return {
    durability,
    start(dir, i): KillRun {
      const start = (i + 1) * 1_000_000;
      let lastSent = start - 1;
      let maxInFlight = 0;
      let reports = 0;
      let waiters: { n: number; resolve: () => void }[] = [];
      const child = produce({ port, dir, durability, start, count: 999_999 }, (line) => {
        const [what, seq, inFlight] = line.split(" ");
        if (what !== "sent") return;
        lastSent = Number(seq);
        maxInFlight = Math.max(maxInFlight, Number(inFlight));
        reports++;
        waiters = waiters.filter((w) => (reports >= w.n ? (w.resolve(), false) : true));
      });
      return {
        get reports() {
          return reports;
        },
        waitReports: (n) =>
          reports >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
        async kill() {
          child.kill();
          await child.exited;
          const returned = new Map<string, number>();
          for (let seq = start; seq <= lastSent; seq++) returned.set(String(seq), 1);
          const openBatches: string[] = [];
          for (let seq = Math.max(start, lastSent - BATCH_EVENTS + 1); seq <= lastSent; seq++)
            openBatches.push(String(seq));
          // The frames in flight at the kill: at most the most it reported, plus the one being written.
          return { returned, openBatches, duplicateBound: (maxInFlight + 1) * BATCH_EVENTS };
        },
      };
    },
    async drain(dir) {
      const drain = produce({ port, dir, durability, start: 0, count: 0 }, () => {});
      assert.equal(await drain.exited, 0);
    },
    identify(record) {
      if (record._tag !== "kill.test" || typeof record.seq !== "number") return undefined;
      return { unit: String(record.seq), key: String(record.seq) };
    },
  };
}
