/**
 * Forward servers for the fault suite: each misbehaves on purpose in one way, on 127.0.0.1 and port 0. The
 * well-behaved one is forward-receiver.ts's ForwardReceiver (`forwardReceiver()` here starts one).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { ForwardReceiver, heloFrame, type ReceiverOptions } from "./forward-receiver.js";

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

/**
 * Lets `answer` reply to each connection as it likes: called once when a client connects (`chunk` undefined) and
 * then with every chunk read. For fuzzing: the replies a real server never sends.
 */
export function answerWith(
  answer: (socket: net.Socket, chunk: Buffer | undefined) => void,
): Promise<TestServer> {
  return new BasicServer((socket, server) => {
    socket.on("data", (chunk: Buffer) => {
      server.bytesRead += chunk.length;
      if (!socket.destroyed) answer(socket, chunk);
    });
    answer(socket, undefined);
  }).listen();
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

/** A running ForwardReceiver (forward-receiver.ts), well-behaved unless `options` say otherwise. */
export function forwardReceiver(options: ReceiverOptions = {}, port = 0): Promise<ForwardReceiver> {
  return new ForwardReceiver(options).start(port);
}

/**
 * A receiver that decodes and acks, but cuts each of its first `connections` connections when its `n`th frame
 * arrives (that frame is neither acked nor kept: it dies with the connection, as when a server is killed).
 */
export function dropAfterFrames(n: number, connections = Infinity): Promise<ForwardReceiver> {
  return forwardReceiver({
    onFrame: (_frame, frames, _socket, connection) =>
      frames >= n && connection <= connections ? "drop-connection" : "accept",
  });
}
