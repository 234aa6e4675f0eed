import net from "node:net";
import tls from "node:tls";
import { EventEmitter } from "eventemitter3";
import {
  ForwardAckTimeoutError,
  ForwardAuthError,
  ForwardConnectError,
  ForwardConnectTimeoutError,
  ForwardConnectionClosedError,
  ForwardHandshakeTimeoutError,
  ForwardProtocolError,
  ForwardWriteTimeoutError,
} from "./errors.js";
import type { Frame } from "./frame.js";
import { buildPing, checkPong, isHelo, isPong, parseHelo, type Credentials, type Helo } from "./handshake.js";
import { InFlightWindow, type InFlightKey, type InFlightLimits } from "./in-flight.js";
import { ResponseDecoder, type ServerValue } from "./response-decoder.js";

/** Where and how one connection connects; internal. */
export interface ConnectionOptions extends InFlightLimits {
  host: string;
  port: number;
  path: string | undefined;
  tls: tls.ConnectionOptions | undefined;
  /** With a shared key the connection waits for HELO before sending; without, HELO is an error. */
  credentials: Credentials | undefined;
  selfHostname: string;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  requireAck: boolean;
  /** Human name of the server for messages. */
  label: string;
}

/** Events of a Connection; internal. */
export interface ConnectionEvents {
  /** Handshake done (or not needed): frames may be written. */
  ready: [];
  /** A socket took every byte of a frame for the first time. */
  written: [frame: Frame];
  /** A frame was acked (acks on) or fully written (acks off). */
  settled: [frame: Frame, latencyMs: number];
  /** The connection is over. `error` is undefined for an expected close; `frames` were in flight and must be re-sent. */
  close: [error: Error | undefined, frames: Frame[]];
}

type State = "idle" | "connecting" | "handshake" | "ready" | "closed";

/** One socket to one Forward server: connect, handshake, write frames, match acks, time out; internal. */
export class Connection extends EventEmitter<ConnectionEvents> {
  private state: State = "idle";
  private socket: net.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly decoder = new ResponseDecoder();
  private readonly inFlight: InFlightWindow;
  private helo: Helo | undefined;
  private pingSalt = "";
  /** False once the server said `keepalive: false` and a frame was written: one frame per connection. */
  private accepting = true;
  /** Acks received on this connection. */
  acks = 0;
  /** Server hostname from PONG, when a handshake took place. */
  serverHostname: string | undefined;
  /** False while the sink holds nothing: the socket and timers then do not keep the process alive. */
  private ref = true;

  constructor(private readonly options: ConnectionOptions) {
    super();
    this.inFlight = new InFlightWindow(options);
  }

  /**
   * After a failure (acks on): put one frame on the wire and wait for its ack before sending more, the window
   * doubling with each ack, so a server that keeps dropping connections does not get every in-flight frame
   * again each time.
   */
  slowStart(): void {
    if (this.options.requireAck) this.inFlight.slowStart();
  }

  /** True when a frame may be written now. */
  get writable(): boolean {
    return this.state === "ready" && this.accepting && this.inFlight.hasRoom;
  }

  /** True once the connection has failed or been closed. */
  get closed(): boolean {
    return this.state === "closed";
  }

  /** Frames written and not settled. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Lets the socket and timers keep the process alive (`true`) or not. */
  setRef(ref: boolean): void {
    this.ref = ref;
    this.applyRef();
  }

  private applyRef(): void {
    const method = this.ref ? "ref" : "unref";
    this.socket?.[method]();
    this.timer?.[method]();
    this.ackTimer?.[method]();
  }

  /** Opens the socket. Failures arrive as a `close` event, never as a throw. */
  connect(): void {
    if (this.state !== "idle") return;
    this.state = "connecting";
    const o = this.options;
    let socket: net.Socket;
    try {
      if (o.tls) {
        const servername = o.tls.servername ?? (o.path || net.isIP(o.host) ? undefined : o.host);
        socket = tls.connect({
          ...o.tls,
          ...(o.path ? { path: o.path } : { host: o.host, port: o.port }),
          servername,
        });
        socket.once("secureConnect", () => this.onConnect());
      } else {
        socket = o.path ? net.connect({ path: o.path }) : net.connect({ host: o.host, port: o.port });
        socket.once("connect", () => this.onConnect());
      }
    } catch (err) {
      queueMicrotask(() =>
        this.fail(new ForwardConnectError(`cannot connect to ${o.label}: ${String(err)}`, err)),
      );
      return;
    }
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.onSocketError(err));
    socket.on("close", () => this.onSocketClose());
    this.timer = setTimeout(() => {
      this.fail(
        new ForwardConnectTimeoutError(`connecting to ${o.label} timed out after ${o.connectTimeoutMs} ms`),
      );
    }, o.connectTimeoutMs);
    if (!this.ref) this.applyRef();
  }

  private onConnect(): void {
    if (this.state !== "connecting") return;
    clearTimeout(this.timer);
    const socket = this.socket!;
    if (!this.options.path) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
    }
    if (this.options.credentials) {
      this.state = "handshake";
      this.timer = setTimeout(() => {
        const what = this.helo ? "no PONG" : "no HELO (is <security> enabled on the server?)";
        this.fail(
          new ForwardHandshakeTimeoutError(
            `handshake with ${this.options.label} timed out after ${this.options.connectTimeoutMs} ms: ${what}`,
          ),
        );
      }, this.options.connectTimeoutMs);
      if (!this.ref) this.timer.unref();
    } else {
      this.becomeReady();
    }
  }

  private becomeReady(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = "ready";
    this.emit("ready");
  }

  private onData(chunk: Buffer): void {
    if (this.state === "closed") return;
    let values: ServerValue[];
    try {
      values = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new ForwardProtocolError(String(err)));
      return;
    }
    for (const value of values) {
      if ((this.state as State) === "closed") return;
      try {
        this.onValue(value);
      } catch (err) {
        this.fail(err instanceof Error ? err : new ForwardProtocolError(String(err)));
        return;
      }
    }
  }

  private onValue(value: ServerValue): void {
    const label = this.options.label;
    if (value instanceof Map && value.has("ack")) {
      const ack = value.get("ack");
      const chunk = Buffer.isBuffer(ack) ? ack.toString("latin1") : undefined;
      const frame = chunk === undefined ? undefined : this.inFlight.get(chunk);
      if (!frame || !this.options.requireAck) {
        throw new ForwardProtocolError(`${label} acknowledged an unknown chunk ${JSON.stringify(chunk)}`);
      }
      this.acks++;
      this.inFlight.grow();
      this.settle(chunk!, frame);
      return;
    }
    if (isHelo(value)) {
      if (this.state !== "handshake" || this.helo) {
        if (!this.options.credentials) {
          const reason = "the server requires a handshake (sent HELO) but no sharedKey is configured";
          throw new ForwardAuthError(`cannot authenticate to ${label}: ${reason}`, reason);
        }
        throw new ForwardProtocolError(`${label} sent an unexpected HELO`);
      }
      this.helo = parseHelo(value);
      const ping = buildPing(this.helo, this.options.credentials!);
      this.pingSalt = ping.salt;
      this.socket!.write(ping.frame);
      return;
    }
    if (isPong(value)) {
      if (this.state !== "handshake" || !this.helo)
        throw new ForwardProtocolError(`${label} sent an unexpected PONG`);
      this.serverHostname = checkPong(value, this.helo, this.options.credentials!, this.pingSalt);
      this.becomeReady();
      return;
    }
    if (value === null) return; // heartbeat
    throw new ForwardProtocolError(`${label} sent an unexpected reply (not HELO, PONG or ack)`);
  }

  /** Writes a frame; call only when `writable`. */
  write(frame: Frame): void {
    const socket = this.socket!;
    const key = this.options.requireAck ? frame.chunk! : frame.seq;
    frame.attempts++;
    frame.sentAt = performance.now();
    this.inFlight.add(key, frame);
    if (this.helo && !this.helo.keepalive) this.accepting = false;
    const requireAck = this.options.requireAck;
    socket.write(frame.bytes, (err) => {
      // Without acks, a frame taken back from a failed connection is not written: it is sent again.
      if (err || (!requireAck && this.inFlight.get(key) !== frame)) return;
      if (!frame.written) {
        frame.written = true;
        this.emit("written", frame);
      }
      if (!requireAck) this.settle(key, frame);
    });
    if (this.ackTimer === undefined) this.armAckTimer(this.options.ackTimeoutMs);
  }

  private settle(key: InFlightKey, frame: Frame): void {
    this.inFlight.remove(key, frame);
    this.emit("settled", frame, performance.now() - frame.sentAt);
    if (!this.accepting && this.inFlight.size === 0) this.close();
  }

  private armAckTimer(ms: number): void {
    this.ackTimer = setTimeout(() => this.checkAckDeadline(), Math.max(1, ms));
    if (!this.ref) this.ackTimer.unref();
  }

  private checkAckDeadline(): void {
    this.ackTimer = undefined;
    if (this.state === "closed") return;
    const oldest = this.inFlight.oldest();
    if (oldest === undefined) return;
    const waited = performance.now() - oldest.sentAt;
    const timeout = this.options.ackTimeoutMs;
    if (waited < timeout) {
      this.armAckTimer(timeout - waited);
      return;
    }
    const label = this.options.label;
    this.fail(
      this.options.requireAck
        ? new ForwardAckTimeoutError(`no ack from ${label} within ${timeout} ms`)
        : new ForwardWriteTimeoutError(
            `${label} did not take a written frame within ${timeout} ms (not reading?)`,
          ),
    );
  }

  private onSocketError(err: Error): void {
    const label = this.options.label;
    if (this.state === "connecting") {
      this.fail(new ForwardConnectError(`cannot connect to ${label}: ${err.message}`, err));
    } else {
      this.fail(new ForwardConnectionClosedError(`connection to ${label} failed: ${err.message}`, err));
    }
  }

  private onSocketClose(): void {
    if (this.state === "closed") return;
    const label = this.options.label;
    if (this.state === "connecting") {
      this.fail(new ForwardConnectError(`cannot connect to ${label}: connection closed`));
    } else if (this.state === "handshake") {
      this.fail(new ForwardConnectionClosedError(`${label} closed the connection during the handshake`));
    } else if (this.inFlight.size === 0 && this.helo && !this.helo.keepalive) {
      this.fail(undefined);
    } else {
      this.fail(new ForwardConnectionClosedError(`${label} closed the connection`));
    }
  }

  /** Closes without error; unsettled frames are handed back through `close`. */
  close(): void {
    this.fail(undefined);
  }

  private fail(error: Error | undefined): void {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.timer);
    clearTimeout(this.ackTimer);
    this.timer = this.ackTimer = undefined;
    const frames = this.inFlight.takeAll();
    const socket = this.socket;
    if (socket) {
      if (error || frames.length > 0) socket.destroy();
      else socket.end(() => socket.destroy());
      // Late socket errors after we gave up must not become uncaught exceptions.
      socket.on("error", () => {});
    }
    this.emit("close", error, frames);
  }
}
