/**
 * Another process's CPU time, for the benchmarks against real servers: how much a server used during a run (who is
 * the limit), and waiting until servers are idle before the next run (Fluentd and Fluent Bit keep formatting and
 * writing what they acknowledged for a while after the acks: that work must not steal the next run's cores).
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** utime + stime of a process and all its threads, in seconds (from /proc/PID/stat; Linux ticks are 100 Hz). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Resolves once the processes together used at most `maxCores` over a `windowMs` window (default: 2 % of a core over
 * half a second), or after `timeoutMs`; returns how long it waited.
 */
export async function waitUntilIdle(
  pids: readonly number[],
  { maxCores = 0.02, windowMs = 500, timeoutMs = 60_000 } = {},
): Promise<number> {
  const start = Date.now();
  const total = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  for (let before = total(); Date.now() - start < timeoutMs;) {
    await sleep(windowMs);
    const now = total();
    if (now - before <= (maxCores * windowMs) / 1000) break;
    before = now;
  }
  return Date.now() - start;
}
