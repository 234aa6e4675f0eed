/**
 * The sidecar of the kill runs (test/helpers/disk-buffer-kills.ts): `uwsgi-forward` polling a real uWSGI (summary and
 * worker records, an error record for a read that fails) every 80 ms and sending them with acks through
 * `--buffer-path`. Its `--log-level debug` line after each poll says which records went through the sink's
 * `send()`: those of the polls up to the last line with `0 waiting for the output`, each poll known by its records'
 * time (one target: one time per poll).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { startCli } from "./cli-process.js";
import type { KillProcess, KillRun } from "./disk-buffer-kills.js";

const INTERVAL_MS = 80;
/** The sidecar's `batch.maxDelayMs` (the library's default; the sidecar has no flag for it). */
const BATCH_DELAY_MS = 100;
/**
 * The polls one batch can hold: the timer that seals every open batch is due `BATCH_DELAY_MS` after the records of
 * the poll that opened them; the poll ticks after it are due on the 80 ms grid after that poll ended, and timers
 * fire in the order they are due, so only the polls whose tick is due within those 100 ms (the next 2) can join it.
 */
const POLLS_PER_BATCH = Math.ceil(BATCH_DELAY_MS / INTERVAL_MS) + 1;

const POLL_LINE =
  /debug poll: (\d+) records from \d+ of \d+ targets in [\d.]+ ms(?:, newest at (\S+))?; (\d+) waiting for the output; (\d+) frames in flight$/;

/** A poll as its debug line tells it. */
interface Poll {
  /** Its records' time, epoch ms, as a string (the unit of the kill runs); undefined when it had none. */
  unit: string | undefined;
  records: number;
  waiting: number;
}

/** A time as Fluentd's events file writes it (`2026-12-07T09:31:00.123000000Z`), in epoch ms. */
function fluentdMillis(time: string): number {
  return Date.parse(`${time.slice(0, 23)}Z`);
}

/**
 * The sidecar polling `stats` and sending to `port` with `durability`, as a KillProcess; each start is a
 * `startCli` process (killed after the test if still running).
 */
export function sidecarProcess(
  t: { after: (fn: () => Promise<void>) => void },
  port: number,
  stats: string,
  durability: "frame" | "event",
): KillProcess {
  const args = (dir: string): string[] => [
    "--stats",
    stats,
    "--shape",
    "summary,worker",
    "--interval",
    `${INTERVAL_MS}ms`,
    "--forward",
    `127.0.0.1:${port}`,
    "--require-ack",
    "--buffer-path",
    dir,
    "--durability",
    durability,
    "--health-interval",
    "0",
    "--log-level",
    "debug",
  ];
  return {
    durability,
    start(dir): KillRun {
      const cli = startCli(t, args(dir));
      const polls: Poll[] = [];
      let maxInFlight = 0;
      let waiters: { n: number; resolve: () => void }[] = [];
      const lines = createInterface({ input: cli.child.stderr! });
      const read = once(lines, "close");
      lines.on("line", (line) => {
        const m = POLL_LINE.exec(line);
        if (m === null) return;
        const [, records, newest, waiting, inFlight] = m;
        polls.push({
          unit: newest === undefined ? undefined : String(Date.parse(newest)),
          records: Number(records),
          waiting: Number(waiting),
        });
        maxInFlight = Math.max(maxInFlight, Number(inFlight));
        waiters = waiters.filter((w) => (polls.length >= w.n ? (w.resolve(), false) : true));
      });
      return {
        get reports() {
          return polls.length;
        },
        waitReports: (n) =>
          polls.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
        async kill() {
          cli.child.kill("SIGKILL");
          await cli.exited;
          await read; // every line written before the kill
          // A line with nothing waiting: every record polled up to then went through send().
          const handed = polls.slice(0, polls.findLastIndex((p) => p.waiting === 0) + 1);
          const returned = new Map<string, number>();
          for (const { unit, records } of handed) if (unit !== undefined) returned.set(unit, records);
          const openBatches = [...returned.keys()].slice(-POLLS_PER_BATCH);
          const perPoll = Math.max(0, ...polls.map((p) => p.records));
          // The frames in flight at the kill (the most it reported, plus one), each at most one batch of a tag.
          return { returned, openBatches, duplicateBound: (maxInFlight + 1) * POLLS_PER_BATCH * perPoll };
        },
      };
    },
    async drain(dir) {
      const cli = startCli(t, [...args(dir), "--shutdown-timeout", "60s"]);
      await cli.waitForLog(/debug poll: /, 60_000);
      cli.child.kill("SIGTERM");
      assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
      assert.ok(
        cli.stderr.some((line) => / stopped: delivered everything /.test(line)),
        cli.stderr.join("\n"),
      );
    },
    identify(record) {
      // Summary and worker records, and an error record when a read of the stats socket fails (or times out).
      if (
        typeof record._tag !== "string" ||
        !record._tag.startsWith("uwsgi.") ||
        typeof record._time !== "string"
      )
        return undefined;
      return { unit: String(fluentdMillis(record._time)), key: JSON.stringify(record) };
    },
  };
}
