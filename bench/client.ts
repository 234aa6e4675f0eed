/**
 * Benchmark client, run as its own process so its CPU time and peak RSS are its own: sends one record
 * as fast as the client library lets it for `durationMs`, then waits until the library says everything
 * was written (or acked), and reports to the parent over IPC.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { RECORDS, type RecordName } from "./records.js";

/** The clients the benchmark compares. */
export type ClientName = "ForwardSink" | "FluentClient" | "fluent-logger";

/** ForwardSink with a disk buffer (`bufferPath` in a fresh temp dir): `durability` "frame" or "event", or "frame" with `fsync`. */
export type BufferMode = "frame" | "event" | "fsync";

/** What the parent asks for (JSON in argv[2]). */
export interface ClientJob {
  client: ClientName;
  record: RecordName;
  port: number;
  acks: boolean;
  /** ForwardSink only: a disk buffer; undefined = memory only. */
  buffer?: BufferMode | undefined;
  durationMs: number;
  /** Send the same way for this long first, flush, report `warm`, and wait for `go` before measuring. */
  warmupMs: number;
}

/** Sent after the warm-up phase, flushed: how many events it emitted (the receiver waits for them). */
export interface WarmReport {
  type: "warm";
  emitted: number;
}

/** What the client reports. */
export interface ClientResult {
  type: "result";
  emitted: number;
  startNs: string;
  flushedNs: string;
  cpuUs: number;
  maxRssKb: number;
  errors: number;
}

interface Adapter {
  send(tag: string, record: Record<string, unknown>): boolean;
  waitWritable(): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

let errors = 0;

async function forwardSink(job: ClientJob): Promise<Adapter> {
  const { ForwardSink } = (await import("../dist/esm/index.js")) as unknown as {
    ForwardSink: new (options: Record<string, unknown>) => {
      send(tag: string, record: Record<string, unknown>): boolean;
      on(event: string, fn: (...args: unknown[]) => void): unknown;
      once(event: string, fn: (...args: unknown[]) => void): unknown;
      flush(): Promise<void>;
      close(options?: { timeoutMs?: number }): Promise<unknown>;
    };
  };
  const disk =
    job.buffer === undefined
      ? {}
      : {
          bufferPath: mkdtempSync(path.join(os.tmpdir(), "bench-buffer-")),
          durability: job.buffer === "event" ? "event" : "frame",
          fsync: job.buffer === "fsync",
        };
  const sink = new ForwardSink({ host: "127.0.0.1", port: job.port, requireAck: job.acks, ...disk });
  sink.on("serverError", () => errors++);
  sink.on("error", () => errors++);
  return {
    send: (tag, record) => sink.send(tag, record),
    waitWritable: () => new Promise<void>((resolve) => sink.once("drain", () => resolve())),
    flush: () => sink.flush(),
    close: async () => {
      await sink.close({ timeoutMs: 5000 });
      if (disk.bufferPath !== undefined) rmSync(disk.bufferPath, { recursive: true, force: true });
    },
  };
}

async function fluentClient(job: ClientJob): Promise<Adapter> {
  const { FluentClient, FluentSocketEvent } = await import("@fluent-org/logger");
  const client = new FluentClient(null, {
    eventMode: "PackedForward",
    socket: { host: "127.0.0.1", port: job.port },
    milliseconds: true,
    ...(job.acks ? { ack: {} } : {}),
  });
  client.socketOn(FluentSocketEvent.ERROR, () => errors++);
  const onError = (): void => void errors++;
  return {
    send: (tag, record) => {
      client.emit(tag, record).catch(onError);
      return true;
    },
    waitWritable: () => Promise.resolve(),
    flush: () => client.waitForPending(),
    close: () => client.disconnect(),
  };
}

async function fluentLogger(job: ClientJob, markerTag: string, markerRecord: object): Promise<Adapter> {
  const { createFluentSender } = (await import("fluent-logger")).default as unknown as {
    createFluentSender: (
      prefix: string | null,
      options: Record<string, unknown>,
    ) => {
      emit(tag: string, record: object, cb?: (err?: unknown) => void): void;
      on(event: string, fn: (err: unknown) => void): void;
      end(a: null, b: null, cb: () => void): void;
    };
  };
  const sender = createFluentSender(null, {
    host: "127.0.0.1",
    port: job.port,
    eventMode: "PackedForward",
    requireAckResponse: job.acks,
    internalLogger: { info() {}, error() {} },
  });
  sender.on("error", () => errors++);
  let last: Promise<void> = Promise.resolve();
  let lastResolve: (() => void) | undefined;
  return {
    send: (tag, record) => {
      sender.emit(tag, record);
      return true;
    },
    waitWritable: () => Promise.resolve(),
    flush: () => {
      // The callback of an event fires once its batch is written: emit a last marker event and wait for it.
      last = new Promise<void>((resolve) => (lastResolve = resolve));
      sender.emit(markerTag, markerRecord, () => lastResolve?.());
      return last;
    },
    close: () => new Promise<void>((resolve) => sender.end(null, null, resolve)),
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as ClientJob;
  const { tag, make } = RECORDS[job.record];
  const record = make();
  const batch = job.record === "small" ? 1000 : 50;
  const adapter =
    job.client === "ForwardSink"
      ? await forwardSink(job)
      : job.client === "FluentClient"
        ? await fluentClient(job)
        : await fluentLogger(job, tag, record);
  const pump = async (durationMs: number): Promise<number> => {
    const deadline = process.hrtime.bigint() + BigInt(durationMs) * 1_000_000n;
    let emitted = 0;
    while (process.hrtime.bigint() < deadline) {
      let writable = true;
      for (let i = 0; i < batch; i++) {
        writable = adapter.send(tag, record);
        emitted++;
        if (!writable) break;
      }
      if (!writable) await adapter.waitWritable();
      else await yieldToIo();
    }
    return emitted;
  };
  if (job.warmupMs > 0) {
    // Same loop, same record, same connection: the JIT has compiled the hot paths before the clock starts.
    const go = new Promise<void>((resolve) =>
      process.on("message", (msg: { type: string }) => msg.type === "go" && resolve()),
    );
    const warm = await pump(job.warmupMs);
    await adapter.flush();
    const report: WarmReport = { type: "warm", emitted: job.client === "fluent-logger" ? warm + 1 : warm };
    process.send?.(report);
    await go;
  }
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const emitted = await pump(job.durationMs);
  await adapter.flush();
  const flushed = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const result: ClientResult = {
    type: "result",
    emitted: job.client === "fluent-logger" ? emitted + 1 : emitted,
    startNs: start.toString(),
    flushedNs: flushed.toString(),
    cpuUs: cpu.user + cpu.system,
    maxRssKb: process.resourceUsage().maxRSS,
    errors,
  };
  process.send?.(result);
  process.on("message", (msg: { type: string }) => {
    if (msg.type === "exit") {
      void adapter.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    }
  });
}

void main();
