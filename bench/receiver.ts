/**
 * Benchmark receiver, run as its own process: accepts Forward connections, decodes every frame
 * (every entry of every mode, gzip included), acks frames that ask for it, and counts what arrived.
 * Protocol with the parent (IPC): sends {type:"ready", port}; on {type:"expect", events, timeoutMs}
 * answers {type:"result", ...} once that many events arrived or the time ran out.
 */
import net from "node:net";
import { pack } from "msgpackr";
import { gunzipSync } from "node:zlib";
import { FrameSplitter, msgpackEnd, unpackr } from "../test/helpers/misbehaving-msgpack.js";

/** What the receiver reports. */
export interface ReceiverResult {
  type: "result";
  events: number;
  frames: number;
  bytes: number;
  connections: number;
  /** process.hrtime.bigint() (CLOCK_MONOTONIC, shared by every process) of the last event, as a string. */
  lastEventNs: string;
  complete: boolean;
  /** Receiver CPU time (user + system) since the first connection, µs: shows whether it kept up. */
  cpuUs: number;
  /** A field of the last record, to show the records were decoded. */
  sample: unknown;
}

let events = 0;
let frames = 0;
let bytes = 0;
let connections = 0;
let lastEventNs = 0n;
let sample: unknown = null;
let expected = Infinity;
let timer: NodeJS.Timeout | undefined;
let cpuAtConnect: NodeJS.CpuUsage | undefined;

function cpuSinceFirstConnection(): number {
  const cpu = process.cpuUsage(cpuAtConnect);
  return cpu.user + cpu.system;
}

function report(complete: boolean): void {
  if (timer) clearTimeout(timer);
  expected = Infinity;
  const result: ReceiverResult = {
    type: "result",
    events,
    frames,
    bytes,
    connections,
    lastEventNs: lastEventNs.toString(),
    complete,
    cpuUs: cpuSinceFirstConnection(),
    sample,
  };
  process.send?.(result);
}

/**
 * Counts the events of a decoded frame. Packed entries are walked value by value (every byte's
 * msgpack type and length checked, each entry must be a 2-element array) rather than turned into JS
 * objects: materializing a 7.5 KB uWSGI document costs more than any client spends encoding it, and
 * the receiver would then measure itself. The first entry of each frame is fully decoded as a check.
 */
function countEvents(value: unknown[]): number {
  const second = value[1];
  if (Array.isArray(second)) return second.length;
  if (!(second instanceof Uint8Array)) return 1; // Message mode
  const option = value[2] as Record<string, unknown> | undefined;
  const entries = option?.compressed === "gzip" ? gunzipSync(second) : second;
  let n = 0;
  let pos = 0;
  while (pos < entries.length) {
    if (entries[pos] !== 0x92) throw new Error(`entry ${n} is not [time, record]`);
    const end = msgpackEnd(entries, pos);
    if (end < 0) throw new Error(`entry ${n} is cut short`);
    if (n === 0) {
      const [, record] = unpackr.unpack(entries.subarray(pos, end)) as [unknown, Record<string, unknown>];
      sample = record.level ?? record.version;
    }
    n++;
    pos = end;
  }
  return n;
}

const server = net.createServer((socket) => {
  connections++;
  cpuAtConnect ??= process.cpuUsage();
  socket.on("error", () => {});
  const splitter = new FrameSplitter();
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    splitter.push(chunk, (frame) => {
      const value = unpackr.unpack(frame) as unknown[] | null;
      if (value === null) return; // heartbeat
      frames++;
      events += countEvents(value);
      const option = (Array.isArray(value[1]) || value[1] instanceof Uint8Array ? value[2] : value[3]) as
        Record<string, unknown> | undefined;
      if (option?.chunk !== undefined) socket.write(pack({ ack: option.chunk }));
    });
    lastEventNs = process.hrtime.bigint();
    if (events >= expected) report(true);
  });
});

server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "ready", port: (server.address() as net.AddressInfo).port });
});

/** After the client's warm-up: once its events are all in, start counting from zero. */
function resetAfter(warmEvents: number, deadline: number): void {
  if (events < warmEvents && Date.now() < deadline) {
    setTimeout(() => resetAfter(warmEvents, deadline), 5);
    return;
  }
  events = frames = bytes = 0;
  lastEventNs = 0n;
  cpuAtConnect = process.cpuUsage();
  process.send?.({ type: "reset", warmEvents });
}

process.on("message", (msg: { type: string; events?: number; timeoutMs?: number }) => {
  if (msg.type === "reset") {
    resetAfter(msg.events ?? 0, Date.now() + (msg.timeoutMs ?? 60_000));
  } else if (msg.type === "expect") {
    expected = msg.events ?? 0;
    if (events >= expected) return report(true);
    timer = setTimeout(() => report(false), msg.timeoutMs ?? 60_000);
  } else if (msg.type === "exit") {
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
