/**
 * A CPU budget for one process, through a Linux cgroup's CPU quota (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`):
 * the process and its threads get at most `cores` cores' worth of time per 100 ms period. The benchmark against real
 * servers uses it to stand in for servers on hosts of their own: each Fluentd gets the same fixed share, so the
 * servers stay the limit and the machine keeps cores to spare for the client. Needs a writable cgroup hierarchy
 * (root in a container that mounts it read-write); otherwise `cpuBudget` says why it cannot.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const PERIOD_US = 100_000;
const ROOT = "/sys/fs/cgroup";

/** A process held to its budget until `release()` moves it back and removes the cgroup. */
export interface CpuBudget {
  readonly cores: number;
  release(): void;
}

/** The cgroup layout of this machine, or why none can be used. */
function hierarchy(): { version: 1 | 2; base: string } | string {
  const v2 = path.join(ROOT, "cgroup.controllers");
  if (existsSync(v2)) {
    return readFileSync(v2, "utf8").split(/\s+/).includes("cpu")
      ? { version: 2, base: ROOT }
      : "cgroup v2 without the cpu controller";
  }
  const v1 = path.join(ROOT, "cpu");
  if (existsSync(path.join(v1, "cpu.cfs_quota_us"))) return { version: 1, base: v1 };
  return `no cgroup cpu controller under ${ROOT}`;
}

/** Puts `pid` under a quota of `cores` cores (e.g. 0.5); a string says why that is not possible here. */
export function cpuBudget(pid: number, cores: number, name: string): CpuBudget | string {
  if (!(cores > 0)) throw new RangeError(`cores must be a positive number, got ${cores}`);
  const where = hierarchy();
  if (typeof where === "string") return where;
  const dir = path.join(where.base, `uwsgi-forward-bench-${name}-${pid}`);
  const quota = Math.round(cores * PERIOD_US);
  try {
    mkdirSync(dir);
    if (where.version === 2) {
      writeFileSync(path.join(dir, "cpu.max"), `${quota} ${PERIOD_US}`);
    } else {
      writeFileSync(path.join(dir, "cpu.cfs_period_us"), String(PERIOD_US));
      writeFileSync(path.join(dir, "cpu.cfs_quota_us"), String(quota));
    }
    writeFileSync(path.join(dir, "cgroup.procs"), String(pid));
  } catch (err) {
    if (existsSync(dir)) rmdirSync(dir);
    return `cannot create a cgroup with a CPU quota (${(err as Error).message})`;
  }
  return {
    cores,
    release() {
      try {
        writeFileSync(path.join(where.base, "cgroup.procs"), String(pid));
      } catch {
        // The process is gone: the kernel emptied the group.
      }
      rmdirSync(dir);
    },
  };
}
