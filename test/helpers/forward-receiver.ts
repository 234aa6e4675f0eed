import net from "node:net";
import { gunzipSync } from "node:zlib";
import { Packr, Unpackr, addExtension } from "msgpackr";
import { EventTime } from "../../src/forward/protocol/event-time.js";

// Decode EventTime (ext type 0) as our EventTime class; only the receiving side of the tests needs it.
addExtension({ type: 0, unpack: (data: Buffer) => EventTime.fromBuffer(data) } as never);

/** One event as a receiver decoded it. */
export interface ReceivedEvent {
  tag: string;
  time: EventTime | number;
  record: Record<string, unknown>;
}

/** One frame as received, with its event mode inferred from its shape. */
export interface ReceivedFrame {
  mode: "Message" | "Forward" | "PackedForward" | "CompressedPackedForward";
  tag: string;
  option: { size?: number; chunk?: string; compressed?: string } | undefined;
  /** The entries as raw bytes (PackedForward), before gunzip for CompressedPackedForward. */
  entriesBin: Buffer | undefined;
  events: ReceivedEvent[];
  raw: unknown[];
}

/** What the receiver does with a frame: ack it (when it has a chunk) and keep its events, keep them silently, or cut the connection. */
export type FrameAction = "accept" | "ignore" | "drop-connection";

/** Options of a test receiver. */
export interface ReceiverOptions {
  /** Listen on this unix socket instead of 127.0.0.1. */
  path?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Decide per frame; default: accept (ack if a chunk is present). `n` counts frames on this connection from 1. */
  onFrame?: (frame: ReceivedFrame, n: number, socket: net.Socket) => FrameAction;
  /** Send acks for accepted frames with a chunk. Default true. */
  ack?: boolean;
}

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });
const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Decodes a PackedForward entries stream into events. */
export function decodeEntries(tag: string, entries: Buffer): ReceivedEvent[] {
  const out: ReceivedEvent[] = [];
  unpackr.unpackMultiple(entries, (entry: [EventTime | number, Record<string, unknown>]) => {
    out.push({ tag, time: entry[0], record: entry[1] });
  });
  return out;
}

/** Interprets a decoded msgpack frame (as Fluentd's in_forward does). */
export function parseFrame(raw: unknown[]): ReceivedFrame {
  const tag = raw[0] as string;
  const second = raw[1];
  if (Buffer.isBuffer(second) || second instanceof Uint8Array) {
    const option = raw[2] as ReceivedFrame["option"];
    const bin = Buffer.from(second);
    const compressed = option?.compressed === "gzip";
    const events = decodeEntries(tag, compressed ? gunzipSync(bin) : bin);
    return {
      mode: compressed ? "CompressedPackedForward" : "PackedForward",
      tag,
      option,
      entriesBin: bin,
      events,
      raw,
    };
  }
  if (Array.isArray(second)) {
    const events = (second as [EventTime | number, Record<string, unknown>][]).map(([time, record]) => ({
      tag,
      time,
      record,
    }));
    return {
      mode: "Forward",
      tag,
      option: raw[2] as ReceivedFrame["option"],
      entriesBin: undefined,
      events,
      raw,
    };
  }
  return {
    mode: "Message",
    tag,
    option: raw[3] as ReceivedFrame["option"],
    entriesBin: undefined,
    events: [{ tag, time: second as EventTime | number, record: raw[2] as Record<string, unknown> }],
    raw,
  };
}

/** A Forward protocol receiver for tests: records every accepted event, acks on request, misbehaves on request. */
export class ForwardReceiver {
  readonly events: ReceivedEvent[] = [];
  readonly frames: ReceivedFrame[] = [];
  /** Connections accepted so far. */
  connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private waiters: { n: number; resolve: () => void }[] = [];
  private constructor(
    private readonly server: net.Server,
    private readonly options: ReceiverOptions,
  ) {}

  /** Starts listening on 127.0.0.1 (or `options.path`). */
  static async start(options: ReceiverOptions = {}): Promise<ForwardReceiver> {
    const server = net.createServer();
    const receiver = new ForwardReceiver(server, options);
    server.on("connection", (socket) => receiver.onConnection(socket));
    await new Promise<void>((resolve) =>
      options.path
        ? server.listen(options.path, resolve)
        : server.listen(options.port ?? 0, "127.0.0.1", resolve),
    );
    return receiver;
  }

  /** The TCP port. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    let pending: Buffer = Buffer.alloc(0);
    let n = 0;
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let consumed = 0;
      const values: unknown[] = [];
      try {
        unpackr.unpackMultiple(pending, (value: unknown, _start?: number, end?: number) => {
          values.push(value);
          consumed = end ?? consumed;
        });
      } catch (err) {
        if (!(err as { incomplete?: boolean }).incomplete) throw err;
        consumed = (err as { lastPosition?: number }).lastPosition ?? consumed;
      }
      pending = pending.subarray(consumed);
      for (const value of values) {
        if (socket.destroyed) return;
        if (value === null) continue;
        const frame = parseFrame(value as unknown[]);
        n++;
        const action = this.options.onFrame?.(frame, n, socket) ?? "accept";
        if (action === "drop-connection") {
          socket.destroy();
          return;
        }
        if (action === "ignore") continue;
        this.frames.push(frame);
        this.events.push(...frame.events);
        if (frame.option?.chunk && this.options.ack !== false)
          socket.write(packr.pack({ ack: frame.option.chunk }));
        this.notify();
      }
    });
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.events.length >= w.n) w.resolve();
      return this.events.length < w.n;
    });
  }

  /** Resolves once `n` events have been accepted. */
  waitForEvents(n: number): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Cuts every open connection. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Kept here for the tests that import it with the receiver; defined in free-port.ts. */
export { freePort } from "./free-port.js";
