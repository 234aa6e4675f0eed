/**
 * Forward servers for the fault suite: each misbehaves on purpose in one way, on 127.0.0.1 and port 0.
 * `ForwardReceiver` is the well-behaved one (decodes every mode, acks, counts events and duplicates)
 * and can be stopped and started again on the same port.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { pack } from "msgpackr";
import { FrameSplitter, decodeFrame, unpackr, type DecodedEvent } from "./misbehaving-msgpack.js";

/** A listening test server. */
export interface TestServer {
  readonly host: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes read from clients so far. */
  readonly bytesRead: number;
  /** Closes the listener and destroys every open connection. */
  close(): Promise<void>;
}

class BasicServer implements TestServer {
  readonly host = "127.0.0.1";
  port = 0;
  connections = 0;
  bytesRead = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(onConnection: (socket: net.Socket, server: BasicServer) => void) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => {});
      onConnection(socket, this);
    });
  }

  async listen(port = 0): Promise<this> {
    this.server.listen(port, this.host);
    await once(this.server, "listening");
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function countReads(socket: net.Socket, server: BasicServer): void {
  socket.on("data", (chunk: Buffer) => (server.bytesRead += chunk.length));
}

/** Accepts connections and never reads from them: the client's writes pile up in the kernel buffers. */
export function acceptNeverRead(): Promise<TestServer> {
  return new BasicServer((socket) => socket.pause()).listen();
}

/** Reads (and discards) everything, never answers, never acks. */
export function readNeverAck(): Promise<TestServer> {
  return new BasicServer((socket, server) => countReads(socket, server)).listen();
}

/** Answers every chunk it reads with bytes that are not msgpack (0xc1 is never used by msgpack). */
export function answerGarbage(): Promise<TestServer> {
  const garbage = Buffer.from([0xc1, 0xc1, 0xff, 0x00, 0xc1, 0x13, 0x37]);
  return new BasicServer((socket, server) => {
    socket.on("data", (chunk: Buffer) => {
      server.bytesRead += chunk.length;
      socket.write(garbage);
    });
  }).listen();
}

/**
 * On each connection, sends the start of one huge frame: a map whose one value is a str32 that claims
 * `claimedBytes`, then streams filler bytes as fast as the client reads, never finishing the frame.
 * A client that buffers whole replies before decoding would grow without bound.
 */
export function sendHugeFrame(claimedBytes = 0xffff_fff0): Promise<TestServer> {
  const head = Buffer.concat([
    Buffer.from([0x81, 0xa3]),
    Buffer.from("ack"),
    Buffer.from([0xdb]),
    Buffer.alloc(4),
  ]);
  head.writeUInt32BE(claimedBytes >>> 0, head.length - 4);
  const filler = Buffer.alloc(64 * 1024, 0x61);
  return new BasicServer((socket, server) => {
    countReads(socket, server);
    let sent = 0;
    const pump = (): void => {
      while (!socket.destroyed && sent < claimedBytes) {
        sent += filler.length;
        if (!socket.write(filler)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.write(head);
    pump();
  }).listen();
}

/** The HELO a server with a `<security>` section sends first. */
export function heloFrame(nonce: Buffer, authSalt: Buffer | "" = "", keepalive = true): Buffer {
  return pack(["HELO", { nonce, auth: authSalt, keepalive }]);
}

/** Sends HELO on each connection, reads the PING (counted in `bytesRead`), and never answers PONG. */
export function heloNeverPong(): Promise<TestServer> {
  return new BasicServer((socket, server) => {
    countReads(socket, server);
    socket.write(heloFrame(randomBytes(16)));
  }).listen();
}

/** Sends HELO on each connection and closes it straight away. */
export function closeAfterHelo(): Promise<TestServer> {
  return new BasicServer((socket) => {
    socket.end(heloFrame(randomBytes(16)));
  }).listen();
}

/** What a ForwardReceiver does besides receiving properly. */
export interface ForwardReceiverOptions {
  /** Ack frames that carry `option.chunk` (default true). */
  ack?: boolean;
  /** Record field that identifies an event, for duplicate counting (default "id"). */
  idField?: string;
  /** Require the shared-key handshake with this key (sends HELO, checks PING, answers PONG). */
  sharedKey?: string;
  /** Hostname reported in PONG. */
  serverHostname?: string;
  /**
   * Destroy a connection after this many frames were received on it (the frame that reaches the
   * count is neither acked nor counted: it dies with the connection, as when a server is killed).
   */
  dropConnectionAfterFrames?: number;
  /** Apply `dropConnectionAfterFrames` to the first N connections only (default: every connection). */
  dropConnections?: number;
  /** Keep every decoded event in `events` (default false: counts only). */
  keepEvents?: boolean;
}

/**
 * A well-behaved Forward receiver: decodes Message, Forward, PackedForward and CompressedPackedForward
 * frames, acks them, and counts events, duplicates (by `idField`), frames and bytes. `stop()` kills it
 * (connections destroyed, un-acked frames lost); `start()` listens again on the same port.
 */
export class ForwardReceiver implements TestServer {
  readonly host = "127.0.0.1";
  port = 0;
  connections = 0;
  bytesRead = 0;
  frames = 0;
  events = 0;
  duplicates = 0;
  acksSent = 0;
  authFailures = 0;
  /**
   * While false, frames are counted but not acked: set it to false before `stop()` to act like a server
   * that dies after taking frames in and before acknowledging them (those frames come back as duplicates).
   */
  acking = true;
  readonly modes = new Set<string>();
  readonly received: DecodedEvent[] = [];
  readonly seen = new Set<unknown>();
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private readonly opts: Required<Omit<ForwardReceiverOptions, "sharedKey" | "dropConnectionAfterFrames">> &
    Pick<ForwardReceiverOptions, "sharedKey" | "dropConnectionAfterFrames">;

  constructor(options: ForwardReceiverOptions = {}) {
    this.opts = {
      ack: true,
      idField: "id",
      serverHostname: "receiver.test",
      dropConnections: Infinity,
      keepEvents: false,
      ...options,
    };
  }

  /** Unique events received. */
  get unique(): number {
    return this.seen.size;
  }

  /** Listens on `port`, or on the port it had before, or on a free one. */
  async start(port = this.port): Promise<this> {
    if (this.server) return this;
    const server = net.createServer((socket) => this.onConnection(socket));
    server.listen(port, this.host);
    await once(server, "listening");
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  /** Kills the server: destroys every connection (nothing more is acked) and stops listening. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.stop();
  }

  /** Resolves once `n` unique events have arrived. */
  waitForUnique(n: number): Promise<void> {
    if (this.unique >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  private onConnection(socket: net.Socket): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    const splitter = new FrameSplitter();
    let framesHere = 0;
    let authed = this.opts.sharedKey === undefined;
    const nonce = randomBytes(16);
    if (!authed) socket.write(heloFrame(nonce));
    socket.on("data", (chunk: Buffer) => {
      if (socket.destroyed) return;
      this.bytesRead += chunk.length;
      try {
        splitter.push(chunk, (frame) => {
          if (socket.destroyed) return;
          if (!authed) {
            authed = this.checkPing(socket, frame, nonce);
            return;
          }
          framesHere++;
          const drop = this.opts.dropConnectionAfterFrames;
          if (drop !== undefined && connection <= this.opts.dropConnections && framesHere >= drop) {
            socket.destroy();
            return;
          }
          this.onFrame(socket, frame);
        });
      } catch {
        socket.destroy();
      }
    });
  }

  private checkPing(socket: net.Socket, frame: Buffer, nonce: Buffer): boolean {
    const ping = unpackr.unpack(frame) as unknown[];
    const key = this.opts.sharedKey ?? "";
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
    const host = this.opts.serverHostname;
    const mine = createHash("sha512").update(salt).update(host).update(nonce).update(key).digest("hex");
    socket.write(pack(["PONG", true, "", host, mine]));
    return true;
  }

  private onFrame(socket: net.Socket, frame: Buffer): void {
    const decoded = decodeFrame(frame);
    if (decoded.mode === "heartbeat") return;
    this.frames++;
    this.modes.add(decoded.mode);
    const idField = this.opts.idField;
    for (const event of decoded.events) {
      this.events++;
      const id = event.record[idField];
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
      if (this.opts.keepEvents) this.received.push(event);
    }
    const chunk = decoded.option?.chunk;
    if (this.opts.ack && this.acking && chunk !== undefined) {
      this.acksSent++;
      socket.write(pack({ ack: chunk }));
    }
    if (this.waiters.length > 0) {
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (this.unique >= w.n) {
          this.waiters.splice(i, 1);
          w.resolve();
        }
      }
    }
  }
}

/** A running ForwardReceiver. */
export function forwardReceiver(options: ForwardReceiverOptions = {}, port = 0): Promise<ForwardReceiver> {
  return new ForwardReceiver(options).start(port);
}

/** A receiver that decodes and acks, then drops each connection mid-stream when its `n`th frame arrives. */
export function dropAfterFrames(n: number, connections = Infinity): Promise<ForwardReceiver> {
  return forwardReceiver({ dropConnectionAfterFrames: n, dropConnections: connections });
}
