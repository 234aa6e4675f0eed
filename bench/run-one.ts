/**
 * One benchmark run: a receiver process and a client process (bench/client.ts), the client sending one record as
 * fast as it is accepted; only what the receiver decoded counts. Used by bench/run.ts and bench/disk.ts.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { BufferMode, ClientJob, ClientName, ClientResult, WarmReport } from "./client.js";
import type { ReceiverResult } from "./receiver.js";
import type { RecordName } from "./records.js";

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
/** Seconds measured per run (`BENCH_DURATION_MS`, default 2000 ms). */
export const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2000);
/** Warm-up before the clock starts (`BENCH_WARMUP_MS`, default 1000 ms). */
export const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1000);

/** One measured run. */
export interface Run {
  client: ClientName;
  acks: boolean;
  buffer: BufferMode | undefined;
  record: RecordName;
  emitted: number;
  arrived: number;
  eventsPerSec: number;
  cpuUsPerEvent: number;
  bytesPerEvent: number;
  peakRssMb: number;
  receiverCpuUsPerEvent: number;
  errors: number;
}

function child(file: string, args: string[] = []) {
  return fork(here(file), args, {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** The next IPC message of `type` from `proc`; rejects if the process exits first (a run never hangs on a crash). */
async function message<T>(proc: ReturnType<typeof fork>, type: string): Promise<T> {
  const exited = once(proc, "exit").then(([code, signal]) => {
    throw new Error(`${type}: the process exited (code ${String(code)}, signal ${String(signal)}) first`);
  });
  exited.catch(() => {});
  for (;;) {
    const [msg] = (await Promise.race([once(proc, "message"), exited])) as [{ type: string }];
    if (msg.type === type) return msg as T;
  }
}

/** Runs `client` once on `record` (with acks, with a disk buffer) and measures what arrived. */
export async function runOne(
  client: ClientName,
  record: RecordName,
  acks: boolean,
  buffer?: BufferMode,
): Promise<Run> {
  const receiver = child("./receiver.ts");
  try {
    const { port } = await message<{ port: number }>(receiver, "ready");
    const job: ClientJob = {
      client,
      record,
      port,
      acks,
      buffer,
      durationMs: DURATION_MS,
      warmupMs: WARMUP_MS,
    };
    const proc = child("./client.ts", [JSON.stringify(job)]);
    try {
      if (WARMUP_MS > 0) {
        const warm = await message<WarmReport>(proc, "warm");
        receiver.send({ type: "reset", events: warm.emitted, timeoutMs: 60_000 });
        await message(receiver, "reset");
        proc.send({ type: "go" });
      }
      const sent = await message<ClientResult>(proc, "result");
      const gotP = message<ReceiverResult>(receiver, "result");
      receiver.send({ type: "expect", events: sent.emitted, timeoutMs: 60_000 });
      const got = await gotP;
      proc.send({ type: "exit" });
      const seconds = Number(BigInt(got.lastEventNs) - BigInt(sent.startNs)) / 1e9;
      return {
        client,
        acks,
        buffer,
        record,
        emitted: sent.emitted,
        arrived: got.events,
        eventsPerSec: got.events / seconds,
        cpuUsPerEvent: sent.cpuUs / sent.emitted,
        bytesPerEvent: got.bytes / got.events,
        peakRssMb: sent.maxRssKb / 1024,
        receiverCpuUsPerEvent: got.cpuUs / Math.max(1, got.events),
        errors: sent.errors,
      };
    } finally {
      await Promise.race([once(proc, "exit"), new Promise((r) => setTimeout(r, 4000))]);
      proc.kill();
    }
  } finally {
    receiver.kill();
  }
}
