import type net from "node:net";
import { EventEmitter } from "eventemitter3";
import {
  ForwardAckTimeoutError,
  ForwardAuthError,
  ForwardConnectionClosedError,
  ForwardHandshakeTimeoutError,
  ForwardHeartbeatTimeoutError,
  ForwardProtocolError,
  ForwardWriteTimeoutError,
} from "../errors.js";
import { newChunkId, type Frame } from "../batching/frame.js";
import { encodeHeartbeat } from "../protocol/frame-encoder.js";
import {
  buildPing,
  checkPong,
  isHelo,
  isPong,
  parseHelo,
  type Credentials,
  type Helo,
} from "../protocol/handshake.js";
import { ReplyDecoder, type ServerValue } from "../protocol/reply-decoder.js";
import type { Clock, Timer } from "../clock.js";
import { connect, type ConnectOptions } from "./connect.js";
import { InFlightWindow, type InFlightKey, type InFlightLimits } from "./in-flight.js";

/** Where and how one connection connects, authenticates and waits for acks. */
export interface ConnectionOptions extends ConnectOptions, InFlightLimits {
  /** With a shared key the connection waits for HELO before sending; without, HELO is an error. */
  credentials: Credentials | undefined;
  /** Without credentials and acks: how long written frames wait, unconfirmed, for a HELO or an error (0: not at all). */
  handshakeGraceMs: number;
  /**
   * Heartbeats (acks off, TCP/TLS): a message with no event that asks for an ack, sent every `intervalMs` while the
   * last was answered; one unanswered for `timeoutMs` fails the connection. Undefined: none.
   */
  heartbeat: { intervalMs: number; timeoutMs: number } | undefined;
  ackTimeoutMs: number;
  requireAck: boolean;
}

/** Events of a Connection. */
export interface ConnectionEvents {
  /** Handshake done (or not needed): frames may be written. */
  ready: [];
  /** A socket took every byte of a frame written on this connection. */
  written: [frame: Frame];
  /** A frame was acked (acks on) or fully written (acks off). */
  settled: [frame: Frame, latencyMs: number];
  /**
   * Acks off: a heartbeat went unanswered for `heartbeat.timeoutMs`. The connection takes no more frames but stays
   * open, so that a server that was only frozen still reads what its kernel holds; `resumed` if it answers again,
   * a failure at the write deadline (`ackTimeoutMs`) if it does not.
   */
  stalled: [error: ForwardHeartbeatTimeoutError];
  /** The stalled server answered its heartbeat: frames may be written again. */
  resumed: [];
  /** The connection is over. `error` is undefined for an expected close; `frames` were in flight and must be re-sent. */
  close: [error: Error | undefined, frames: Frame[]];
}

type State = "idle" | "connecting" | "handshake" | "ready" | "closed";

/** One socket to one Forward server: connect, handshake, write frames, match acks, time out. */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly #options: ConnectionOptions;
  readonly #clock: Clock;
  #state: State = "idle";
  #socket: net.Socket | undefined;
  #handshakeTimer: Timer | undefined;
  #ackTimer: Timer | undefined;
  #graceTimer: Timer | undefined;
  #heartbeatTimer: Timer | undefined;
  /** The heartbeat waiting for its ack, and when it was sent (on the clock). */
  #heartbeat: { chunk: string; sentAt: number } | undefined;
  /** A heartbeat went unanswered: no frames are written until one is answered; the error to fail with at the deadline. */
  #stalled: ForwardHeartbeatTimeoutError | undefined;
  /**
   * Acks off, no shared key, early in the connection: frames the socket took are not confirmed yet, because a
   * server that wants a handshake (or is not a Forward input) drops them and says so only by answering. They are
   * settled when the grace ends quietly, and handed back with the in-flight ones if the server speaks up first.
   */
  #unconfirmed: Frame[] | undefined;
  readonly #decoder = new ReplyDecoder();
  readonly #inFlight: InFlightWindow;
  #helo: Helo | undefined;
  #pingSalt = "";
  /**
   * False once the server said `keepalive: false` and a frame was written (one frame per connection), or once the
   * connection is drained: it then closes when the frames in flight are settled.
   */
  #accepting = true;
  /** False while the sink holds nothing: the socket and timers then do not keep the process alive. */
  #ref = true;
  /** Frames written in one turn of the event loop leave in one writev (Message mode with acks writes a frame per event). */
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket?.uncork();
  };

  constructor(options: ConnectionOptions, clock: Clock) {
    super();
    this.#options = options;
    this.#clock = clock;
    this.#inFlight = new InFlightWindow(options);
  }

  /**
   * After a failure (acks on): put one frame on the wire and wait for its ack before sending more, the window
   * doubling with each ack, so a server that keeps dropping connections does not get every in-flight frame
   * again each time.
   */
  slowStart(): void {
    if (this.#options.requireAck) this.#inFlight.slowStart();
  }

  /** True when a frame may be written now. */
  get writable(): boolean {
    return (
      this.#state === "ready" && this.#accepting && this.#stalled === undefined && this.#inFlight.hasRoom
    );
  }

  /**
   * Takes no more frames and closes, without error, once the frames in flight are settled (acked, or taken by the
   * socket): a server leaving the rotation, or a connection old enough to be replaced. The ack deadline still holds.
   */
  drain(): void {
    this.#accepting = false;
    if (this.#state === "idle" || this.#state === "connecting" || this.#inFlight.size === 0) this.close();
  }

  /**
   * False while nothing has shown yet that the server takes what this connection writes: acks off, no shared key,
   * within the handshake grace, no heartbeat answered. A server that hangs up then may be one that wants a
   * handshake and reset the connection before its HELO could be read.
   */
  get confirmed(): boolean {
    return this.#unconfirmed === undefined;
  }

  /** Frames written and not settled. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Lets the socket and timers keep the process alive (`true`) or not. */
  setRef(ref: boolean): void {
    this.#ref = ref;
    const method = ref ? "ref" : "unref";
    this.#socket?.[method]();
    this.#handshakeTimer?.[method]();
    this.#ackTimer?.[method]();
    this.#graceTimer?.[method]();
    this.#heartbeatTimer?.[method]();
  }

  #timer(fn: () => void, ms: number): Timer {
    const timer = this.#clock.setTimeout(fn, ms);
    if (!this.#ref) timer.unref();
    return timer;
  }

  /** Opens the socket. Failures arrive as a `close` event, never as a throw. */
  connect(): void {
    if (this.#state !== "idle") return;
    this.#state = "connecting";
    this.#socket = connect(this.#options, this.#clock, (error) => {
      if (this.#state !== "connecting") return;
      if (error) this.#fail(error);
      else this.#onConnect();
    });
    if (this.#socket && !this.#ref) this.#socket.unref();
  }

  #onConnect(): void {
    const socket = this.#socket!;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#onSocketError(err));
    socket.on("close", () => this.#onSocketClose());
    if (this.#options.credentials) {
      this.#state = "handshake";
      this.#handshakeTimer = this.#timer(() => {
        const what = this.#helo ? "no PONG" : "no HELO (is <security> enabled on the server?)";
        this.#fail(
          new ForwardHandshakeTimeoutError(
            `handshake with ${this.#options.label} timed out after ${this.#options.connectTimeoutMs} ms: ${what}`,
          ),
        );
      }, this.#options.connectTimeoutMs);
    } else {
      this.#becomeReady();
    }
  }

  #becomeReady(): void {
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#state = "ready";
    const { credentials, requireAck, handshakeGraceMs } = this.#options;
    if (!credentials && !requireAck && handshakeGraceMs > 0) {
      this.#unconfirmed = [];
      this.#graceTimer = this.#timer(() => this.#endGrace(), handshakeGraceMs);
    }
    // The first heartbeat waits an interval: a server with `<security>` that gets a message before it could send its
    // HELO hangs up without it, and the fault would read as a closed connection. A `keepalive: false` server closes
    // after the first message: a heartbeat would be that message.
    if (this.#options.heartbeat && this.#helo?.keepalive !== false) {
      this.#armHeartbeat(this.#options.heartbeat.intervalMs);
    }
    this.emit("ready");
  }

  /** Sends a heartbeat and waits for its ack; the same timer then sends the next one or gives up. */
  #sendHeartbeat(): void {
    const chunk = newChunkId();
    this.#heartbeat = { chunk, sentAt: this.#clock.now() };
    this.#socket!.write(encodeHeartbeat(chunk));
    this.#armHeartbeat(this.#options.heartbeat!.timeoutMs);
  }

  #armHeartbeat(ms: number): void {
    this.#clock.clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = this.#timer(() => this.#onHeartbeatTimer(), Math.max(1, ms));
  }

  #onHeartbeatTimer(): void {
    this.#heartbeatTimer = undefined;
    if (this.#state !== "ready") return;
    const beat = this.#heartbeat;
    if (beat === undefined) {
      this.#sendHeartbeat();
      return;
    }
    const { timeoutMs } = this.#options.heartbeat!;
    const waited = this.#clock.now() - beat.sentAt;
    if (this.#stalled) {
      // Still no answer at the write deadline: the server is gone, not paused.
      this.#fail(this.#stalled);
      return;
    }
    if (waited < timeoutMs) {
      this.#armHeartbeat(timeoutMs - waited);
      return;
    }
    this.#stalled = new ForwardHeartbeatTimeoutError(
      `${this.#options.label} did not answer a heartbeat within ${timeoutMs} ms (frozen, or the network is cut)`,
    );
    this.#armHeartbeat(this.#options.ackTimeoutMs);
    this.emit("stalled", this.#stalled);
  }

  /** The server answered the heartbeat: it reads and speaks Forward without a handshake. */
  #onHeartbeatAck(): void {
    this.#heartbeat = undefined;
    if (this.#stalled) {
      this.#stalled = undefined;
      this.emit("resumed");
    }
    if (this.#unconfirmed) {
      this.#clock.clearTimeout(this.#graceTimer);
      this.#endGrace();
    }
    if (this.#state === "ready") this.#armHeartbeat(this.#options.heartbeat!.intervalMs);
  }

  /** The server let the grace pass without a HELO or an error: what it took so far counts as written. */
  #endGrace(): void {
    this.#graceTimer = undefined;
    const frames = this.#unconfirmed ?? [];
    this.#unconfirmed = undefined;
    for (const frame of frames) {
      if (this.#state === "closed") return;
      this.#confirmWritten(frame.seq, frame);
    }
  }

  /** A socket took every byte of `frame`; without acks that settles it. */
  #confirmWritten(key: InFlightKey, frame: Frame): void {
    this.emit("written", frame);
    if (!this.#options.requireAck) this.#settle(key, frame);
  }

  #onData(chunk: Buffer): void {
    if (this.#state === "closed") return;
    let values: ServerValue[];
    try {
      values = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new ForwardProtocolError(String(err)));
      return;
    }
    for (const value of values) {
      if ((this.#state as State) === "closed") return;
      try {
        this.#onValue(value);
      } catch (err) {
        this.#fail(err instanceof Error ? err : new ForwardProtocolError(String(err)));
        return;
      }
    }
  }

  #onValue(value: ServerValue): void {
    const label = this.#options.label;
    if (value instanceof Map && value.has("ack")) {
      const ack = value.get("ack");
      const chunk = Buffer.isBuffer(ack) ? ack.toString("latin1") : undefined;
      if (chunk !== undefined && chunk === this.#heartbeat?.chunk) {
        this.#onHeartbeatAck();
        return;
      }
      const frame = chunk === undefined ? undefined : this.#inFlight.get(chunk);
      if (!frame || !this.#options.requireAck) {
        throw new ForwardProtocolError(`${label} acknowledged an unknown chunk ${JSON.stringify(chunk)}`);
      }
      this.#inFlight.grow();
      this.#settle(chunk!, frame);
      return;
    }
    if (isHelo(value)) {
      if (this.#state !== "handshake" || this.#helo) {
        if (!this.#options.credentials) {
          const reason = "the server requires a handshake (sent HELO) but no sharedKey is configured";
          throw new ForwardAuthError(`cannot authenticate to ${label}: ${reason}`, reason);
        }
        throw new ForwardProtocolError(`${label} sent an unexpected HELO`);
      }
      this.#helo = parseHelo(value);
      const ping = buildPing(this.#helo, this.#options.credentials!);
      this.#pingSalt = ping.salt;
      this.#socket!.write(ping.frame);
      return;
    }
    if (isPong(value)) {
      if (this.#state !== "handshake" || !this.#helo)
        throw new ForwardProtocolError(`${label} sent an unexpected PONG`);
      checkPong(value, this.#helo, this.#options.credentials!, this.#pingSalt);
      this.#becomeReady();
      return;
    }
    if (value === null) return; // heartbeat
    throw new ForwardProtocolError(`${label} sent an unexpected reply (not HELO, PONG or ack)`);
  }

  /** Writes a frame; call only when `writable`. */
  write(frame: Frame): void {
    const socket = this.#socket!;
    const requireAck = this.#options.requireAck;
    const key = requireAck ? frame.chunk! : frame.seq;
    this.#inFlight.add(key, frame, this.#clock.now());
    if (this.#helo && !this.#helo.keepalive) this.#accepting = false;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(this.#uncork);
    }
    socket.write(frame.bytes, (err) => {
      // Without acks, a frame taken back from a failed connection is not written: it is sent again.
      if (err || (!requireAck && this.#inFlight.get(key) !== frame)) return;
      if (this.#unconfirmed) this.#unconfirmed.push(frame);
      else this.#confirmWritten(key, frame);
    });
    if (this.#ackTimer === undefined) this.#armAckTimer(this.#options.ackTimeoutMs);
  }

  #settle(key: InFlightKey, frame: Frame): void {
    const now = this.#clock.now();
    this.emit("settled", frame, now - (this.#inFlight.remove(key, frame) ?? now));
    if (!this.#accepting && this.#inFlight.size === 0) this.close();
  }

  #armAckTimer(ms: number): void {
    this.#ackTimer = this.#timer(() => this.#checkAckDeadline(), Math.max(1, ms));
  }

  #checkAckDeadline(): void {
    this.#ackTimer = undefined;
    if (this.#state === "closed") return;
    const oldestSentAt = this.#inFlight.oldestSentAt();
    if (oldestSentAt === undefined) return;
    const timeout = this.#options.ackTimeoutMs;
    if (this.#unconfirmed) {
      // Frames held through the grace were taken by the socket: the write deadline starts over after it.
      this.#armAckTimer(timeout);
      return;
    }
    const waited = this.#clock.now() - oldestSentAt;
    if (waited < timeout) {
      this.#armAckTimer(timeout - waited);
      return;
    }
    const label = this.#options.label;
    this.#fail(
      this.#options.requireAck
        ? new ForwardAckTimeoutError(`no ack from ${label} within ${timeout} ms`)
        : new ForwardWriteTimeoutError(
            `${label} did not take a written frame within ${timeout} ms (not reading?)`,
          ),
    );
  }

  #onSocketError(err: Error): void {
    if (this.#state === "handshake" && this.#helo) {
      this.#fail(this.#refusedWithoutPong());
      return;
    }
    this.#fail(
      new ForwardConnectionClosedError(`connection to ${this.#options.label} failed: ${err.message}`, err),
    );
  }

  #onSocketClose(): void {
    if (this.#state === "closed") return;
    const label = this.#options.label;
    if (this.#state === "handshake" && this.#helo) {
      this.#fail(this.#refusedWithoutPong());
    } else if (this.#state === "handshake") {
      this.#fail(new ForwardConnectionClosedError(`${label} closed the connection during the handshake`));
    } else if (this.#inFlight.size === 0 && this.#helo && !this.#helo.keepalive) {
      this.#fail(undefined);
    } else {
      this.#fail(new ForwardConnectionClosedError(`${label} closed the connection`));
    }
  }

  /** The server hung up after our PING without a PONG: Fluent Bit's answer to a wrong shared key. */
  #refusedWithoutPong(): ForwardAuthError {
    const reason =
      "the server closed the connection after our PING without a PONG (Fluent Bit does this on a shared key mismatch)";
    return new ForwardAuthError(
      `${this.#options.label} refused authentication: ${reason}; check sharedKey`,
      reason,
    );
  }

  /** Closes without error; unsettled frames are handed back through `close`. */
  close(): void {
    this.#fail(undefined);
  }

  #fail(error: Error | undefined): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#clock.clearTimeout(this.#ackTimer);
    this.#clock.clearTimeout(this.#graceTimer);
    this.#clock.clearTimeout(this.#heartbeatTimer);
    this.#handshakeTimer = this.#ackTimer = this.#graceTimer = this.#heartbeatTimer = undefined;
    this.#heartbeat = this.#stalled = undefined;
    const frames = this.#inFlight.takeAll();
    const socket = this.#socket;
    if (socket) {
      if (error || frames.length > 0) socket.destroy();
      else socket.end(() => socket.destroy());
      // Late socket errors after we gave up must not become uncaught exceptions.
      socket.on("error", () => {});
    }
    // `confirmed` still tells the close's listeners whether the connection died unconfirmed.
    this.emit("close", error, frames);
    this.#unconfirmed = undefined;
  }
}
