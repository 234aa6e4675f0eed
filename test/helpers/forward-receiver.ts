/**
 * The test suite's one Forward receiver, on 127.0.0.1 (or a unix socket): decodes Message, Forward, PackedForward and
 * CompressedPackedForward frames (misbehaving-msgpack.ts's decoder), acks them, keeps every event, counts duplicates
 * by an id field, speaks the shared-key handshake on request, and misbehaves on request (per-frame actions, dropped
 * connections, no acks). It can be stopped and started again on the same port.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { pack } from "msgpackr";
import {
  FrameSplitter,
  decodeFrame,
  unpackr,
  type DecodedEvent,
  type DecodedFrame,
} from "./misbehaving-msgpack.js";

export { freePort } from "./free-port.js";

/** One event as the receiver decoded it (`time`: a number, or an EventTime's `{ seconds, nanoseconds }`). */
export type ReceivedEvent = DecodedEvent;

/** One frame as received: its event mode, tag, option and events. */
export type ReceivedFrame = DecodedFrame;

/**
 * What the receiver does with a frame: keep its events and ack it (when it has a chunk), keep nothing silently, or cut
 * the connection (the frame dies with it, unacked and uncounted, as when a server is killed).
 */
export type FrameAction = "accept" | "ignore" | "drop-connection";

/** Options of a ForwardReceiver. */
export interface ReceiverOptions {
  /** Listen on this unix socket instead of 127.0.0.1. */
  path?: string;
  /** TCP port for `ForwardReceiver.start`; default 0 (any free port). */
  port?: number;
  /**
   * Decides per frame; default: accept. `n` counts the frames of this connection from 1, `connection` the
   * connections from 1.
   */
  onFrame?: (frame: ReceivedFrame, n: number, socket: net.Socket, connection: number) => FrameAction;
  /** Ack frames that carry `option.chunk`. Default true. */
  ack?: boolean;
  /** Record field that identifies an event, for duplicate counting. Default "id". */
  idField?: string;
  /** Require the shared-key handshake with this key (sends HELO, checks PING, answers PONG). */
  sharedKey?: string;
  /** Hostname reported in PONG. Default "receiver.test". */
  serverHostname?: string;
}

/** The HELO a server with a `<security>` section sends first. */
export function heloFrame(nonce: Buffer, authSalt: Buffer | "" = "", keepalive = true): Buffer {
  return pack(["HELO", { nonce, auth: authSalt, keepalive }]);
}

/** A Forward protocol receiver for tests (see the module comment). */
export class ForwardReceiver {
  readonly host = "127.0.0.1";
  port = 0;
  /** Connections accepted so far. */
  connections = 0;
  /** Bytes read from clients so far. */
  bytesRead = 0;
  /** Acks written so far. */
  acksSent = 0;
  /** PINGs refused (wrong shared key). */
  authFailures = 0;
  /** Events that arrived again (same `idField`). */
  duplicates = 0;
  /**
   * While false, frames are kept but not acked: set it to false before `stop()` to act like a server that dies after
   * taking frames in and before acknowledging them (those frames come back as duplicates).
   */
  acking = true;
  /** Every accepted event, duplicates included, in arrival order. */
  readonly events: ReceivedEvent[] = [];
  /** Every accepted frame. */
  readonly frames: ReceivedFrame[] = [];
  /** The event modes seen. */
  readonly modes = new Set<string>();
  /** The ids seen (`idField`). */
  readonly seen = new Set<unknown>();
  #server: net.Server | null = null;
  readonly #sockets = new Set<net.Socket>();
  #waiters: { done: () => boolean; resolve: () => void }[] = [];
  readonly #options: ReceiverOptions;

  constructor(options: ReceiverOptions = {}) {
    this.#options = options;
  }

  /** A receiver listening on 127.0.0.1 (`options.port`, default a free port) or on `options.path`. */
  static start(options: ReceiverOptions = {}): Promise<ForwardReceiver> {
    return new ForwardReceiver(options).start(options.port);
  }

  /** Unique events received (by `idField`). */
  get unique(): number {
    return this.seen.size;
  }

  /** Listens on `port`, or on the port it had before, or on a free one (or on `options.path`). */
  async start(port = this.port): Promise<this> {
    if (this.#server) return this;
    const server = net.createServer((socket) => this.#onConnection(socket));
    if (this.#options.path !== undefined) server.listen(this.#options.path);
    else server.listen(port, this.host);
    await once(server, "listening");
    this.#server = server;
    if (this.#options.path === undefined) this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  /** Kills the server: destroys every connection (nothing more is acked) and stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Same as `stop()`. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Cuts every open connection, and keeps listening. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Resolves once `n` events have been accepted (duplicates included). */
  waitForEvents(n: number): Promise<void> {
    return this.#wait(() => this.events.length >= n);
  }

  /** Resolves once `n` unique events have arrived. */
  waitForUnique(n: number): Promise<void> {
    return this.#wait(() => this.unique >= n);
  }

  #wait(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ done, resolve }));
  }

  #onConnection(socket: net.Socket): void {
    const connection = ++this.connections;
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    const splitter = new FrameSplitter();
    let framesHere = 0;
    let authed = this.#options.sharedKey === undefined;
    const nonce = randomBytes(16);
    if (!authed) socket.write(heloFrame(nonce));
    socket.on("data", (chunk: Buffer) => {
      if (socket.destroyed) return;
      this.bytesRead += chunk.length;
      try {
        splitter.push(chunk, (bytes) => {
          if (socket.destroyed) return;
          if (!authed) {
            authed = this.#checkPing(socket, bytes, nonce);
            return;
          }
          const frame = decodeFrame(bytes);
          if (frame.mode === "heartbeat") return;
          const action = this.#options.onFrame?.(frame, ++framesHere, socket, connection) ?? "accept";
          if (action === "drop-connection") socket.destroy();
          if (action === "accept") this.#accept(socket, frame);
        });
      } catch {
        socket.destroy();
      }
    });
  }

  #checkPing(socket: net.Socket, frame: Buffer, nonce: Buffer): boolean {
    const ping = unpackr.unpack(frame) as unknown[];
    const key = this.#options.sharedKey ?? "";
    const [, hostname, salt, digest] = ping.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v)) as [
      string,
      string | Buffer,
      string | Buffer,
      string,
    ];
    const expected = createHash("sha512")
      .update(salt)
      .update(hostname)
      .update(nonce)
      .update(key)
      .digest("hex");
    if (ping[0] !== "PING" || digest !== expected) {
      this.authFailures++;
      socket.end(pack(["PONG", false, "shared_key mismatch", "", ""]));
      return false;
    }
    const host = this.#options.serverHostname ?? "receiver.test";
    const mine = createHash("sha512").update(salt).update(host).update(nonce).update(key).digest("hex");
    socket.write(pack(["PONG", true, "", host, mine]));
    return true;
  }

  #accept(socket: net.Socket, frame: ReceivedFrame): void {
    this.frames.push(frame);
    this.modes.add(frame.mode);
    const idField = this.#options.idField ?? "id";
    for (const event of frame.events) {
      this.events.push(event);
      const id = event.record[idField];
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
    }
    const chunk = frame.option?.chunk;
    if (this.#options.ack !== false && this.acking && chunk !== undefined) {
      this.acksSent++;
      socket.write(pack({ ack: chunk }));
    }
    if (this.#waiters.length > 0) {
      this.#waiters = this.#waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
    }
  }
}
