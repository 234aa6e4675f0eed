import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { ForwardBufferLockedError, ForwardBufferPathError } from "../errors.js";

/** The lock file's name inside `bufferPath`. */
export const LOCK_FILE = "lock";

/**
 * When this process started (ms since the epoch), written next to the pid: a lock naming our pid with another start
 * time was left by an earlier process that had the same pid (a container's pid 1 after a restart), hence stale; one
 * with ours is held by this process (another sink, maybe in a worker thread, whose module state is not ours).
 */
const processStart = Math.round(Date.now() - process.uptime() * 1000);
/** Lock files this thread holds. */
const held = new Set<string>();

/**
 * Takes `dir` for this process: creates `dir/lock` (exclusively) holding our pid. A lock whose pid is alive (this
 * process included) is refused with FORWARD_BUFFER_LOCKED naming it; one whose process is gone is taken over.
 * Returns the function that releases the lock.
 */
export function acquireLock(dir: string, bufferPath: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  // Two attempts: a stale lock is removed once, then taken (if another process took it meanwhile, it is refused).
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw pathError(bufferPath, err);
      const lock = readHolder(file);
      const holder = lock?.pid;
      const alive =
        holder === process.pid
          ? held.has(file) || Math.abs(lock!.startedAt - processStart) < 1000
          : holder !== undefined && isAlive(holder);
      if (alive) {
        const who = holder === process.pid ? "another sink of this process" : `process ${holder}`;
        throw new ForwardBufferLockedError(
          `bufferPath ${JSON.stringify(bufferPath)} is in use by ${who} (pid ${holder}, in ${file}): one sink per ` +
            "directory; give each process its own bufferPath",
          holder!,
        );
      }
      try {
        unlinkSync(file);
      } catch (unlinkErr) {
        if ((unlinkErr as NodeJS.ErrnoException).code !== "ENOENT") throw pathError(bufferPath, unlinkErr);
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n${processStart}\n`);
    } finally {
      closeSync(fd);
    }
    held.add(file);
    return () => {
      held.delete(file);
      try {
        if (readHolder(file)?.pid === process.pid) unlinkSync(file);
      } catch {
        // Already gone: nothing to release.
      }
    };
  }
}

/** The pid and start time in a lock file, or undefined when it holds no pid (a lock torn at creation: stale). */
function readHolder(file: string): { pid: number; startedAt: number } | undefined {
  try {
    const [pidText = "", startText = ""] = readFileSync(file, "latin1").split("\n");
    const pid = Number.parseInt(pidText, 10);
    return Number.isInteger(pid) && pid > 0 ? { pid, startedAt: Number(startText) || 0 } : undefined;
  } catch {
    return undefined;
  }
}

/** True when a process `pid` runs (EPERM: it runs, under another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function pathError(bufferPath: string, err: unknown): ForwardBufferPathError {
  return new ForwardBufferPathError(
    bufferPath,
    `bufferPath ${JSON.stringify(bufferPath)}: cannot take its lock file: ${(err as Error).message}`,
    err,
  );
}
