import { once } from "node:events";
import { Writable } from "node:stream";
import type { EventTimeInput, ForwardItem } from "../index.js";
import type { Output } from "./output.js";

/** One --stdout line: the tag, the time as epoch seconds (fraction kept), and the record, as they would be sent. */
export function itemLine(item: ForwardItem, now: () => number = Date.now): string {
  return (
    JSON.stringify({ tag: item.tag, time: epochSeconds(item.time ?? now()), record: item.record }) + "\n"
  );
}

function epochSeconds(time: EventTimeInput): number {
  if (typeof time === "number") return time / 1000;
  if (time instanceof Date) return time.getTime() / 1000;
  if (typeof time === "bigint") return Number(time) / 1e9;
  return time.seconds + time.nanoseconds / 1e9;
}

/** Where --stdout writes: `process.stdout` in the sidecar. */
export interface LineOutput {
  write(line: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * The --stdout stand-in for ForwardSink: an object-mode Writable of ForwardItems that prints one JSON
 * line per item and sends nothing. Honours the output's backpressure; counts what it printed.
 */
export class StdoutOutput extends Writable {
  /** Items printed so far. */
  printed = 0;

  constructor(private readonly output: LineOutput) {
    super({ objectMode: true });
  }

  override _write(
    item: ForwardItem,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.printed++;
    if (this.output.write(itemLine(item))) callback();
    else this.output.once("drain", () => callback());
  }
}

/** The --stdout Output: prints, sends nothing; its health part counts printed lines as sent. */
export function stdoutOutput(output: LineOutput): Output {
  const writable = new StdoutOutput(output);
  return {
    writable,
    sink: undefined,
    health: () => ({
      emitted: writable.printed,
      sent: writable.printed,
      acked: 0,
      retried: 0,
      dropped: 0,
      buffered_bytes: 0,
      buffered_events: 0,
      servers_up: 0,
      servers: [],
    }),
    async drained() {
      if (writable.writableLength > 0) await once(writable, "drain");
    },
    async close(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const finished = new Promise<void>((resolve) => writable.end(() => resolve()));
      await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      return { undeliveredEvents: writable.writableLength, text: `printed ${writable.printed} records` };
    },
  };
}
