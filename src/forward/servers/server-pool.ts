import { EventEmitter } from "eventemitter3";
import type { Frame } from "../batching/frame.js";
import { ForwardAckUnsupportedError, type ForwardError } from "../errors.js";
import type { ResolvedOptions } from "../options.js";
import { connect } from "../transport/connect.js";
import { Connection, type ConnectionOptions } from "../transport/connection.js";
import { backoffDelay } from "./backoff.js";
import { pickWeighted } from "./balance.js";
import { systemClock, type Clock, type Timer } from "./clock.js";
import { LatencyRecorder } from "./latency.js";

/** Health of one server: `idle` (not connected, not needed yet), `connecting`, `up`, `down` (waiting to re-probe), `failed` (out of rotation for good). */
export type ServerHealth = "idle" | "connecting" | "up" | "down" | "failed";

/** Identity of a server as passed to `connect`, `disconnect`, `ack` and `serverError` listeners. */
export interface ServerInfo {
  /** `host:port`, or the unix socket path. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly path: string | undefined;
  readonly tls: boolean;
  readonly weight: number;
  readonly standby: boolean;
}

/** Per-server figures in `sink.stats().servers`. */
export interface ServerStats extends ServerInfo {
  state: ServerHealth;
  /** The last failure, if any, with its stable code. */
  lastError: { code: string; message: string; at: Date } | undefined;
  /** The ongoing fault's code (reported once by `serverError`), until a frame is delivered or a connect succeeds after it. */
  fault: string | undefined;
  /** `serverError`s not emitted because they repeated the ongoing fault (over the sink's life). */
  repeatedErrors: number;
  /** Successful connections (handshake included). */
  connects: number;
  /** Return probes (a bare connect every second while the server refuses and the backoff is long) that failed. */
  failedProbes: number;
  /** Consecutive failures (reset by a delivered frame); drives the backoff. */
  failures: number;
  /** Frames written to this server (re-sends included). */
  sentFrames: number;
  /** Frames this server acknowledged (or took, without acks). */
  settledFrames: number;
  /** Frames on the wire waiting for their ack. */
  inFlightFrames: number;
  /** Ack round-trip percentiles over the last 1024 acks (undefined without acks). */
  ackLatencyMs: { p50: number; p99: number } | undefined;
  /** When the next reconnect attempt is due, while `down`. */
  nextRetryAt: Date | undefined;
}

/** Events of the pool, for the outside (the sink re-emits them). The frames' path is calls to a FrameOwner. */
export interface ServerPoolEvents {
  connect: [server: ServerInfo];
  disconnect: [server: ServerInfo, reason: Error | undefined];
  serverError: [error: ForwardError, server: ServerInfo];
}

/** Who the pool reports each frame's fate to, by direct calls (the sink, which keeps the frame store). */
export interface FrameOwner {
  /** A socket took every byte of `frame` for the first time. */
  written(frame: Frame): void;
  /** `frame` was acked (acks on) or fully written (acks off) by `server`. */
  settled(frame: Frame, server: ServerInfo, latencyMs: number): void;
  /** `frames` were in flight on a connection that died: they must be sent again. */
  returned(frames: Frame[]): void;
  /** Some connection can take frames now. */
  writable(): void;
}

/** While a server refuses connections and its backoff is longer than this, a bare connect probes it this often. */
export const RETURN_PROBE_MS = 1000;
/** Faults the return probe may end early: nothing listened. Others (auth, misbehaviour) keep their backoff. */
const PROBED_CODES: ReadonlySet<string> = new Set(["FORWARD_CONNECT_FAILED", "FORWARD_CONNECT_TIMEOUT"]);

/** One server: its settings, connection, health and place in the rotation. */
interface Entry {
  readonly info: ServerInfo;
  readonly options: ConnectionOptions;
  /** Balancing. */
  readonly weight: number;
  current: number;
  conn: Connection | undefined;
  state: ServerHealth;
  lastError: ServerStats["lastError"];
  /** The fault being reported: its code, and whether it came before the handshake completed or after. */
  fault: { code: string; afterConnect: boolean } | undefined;
  repeatedErrors: number;
  /** Up while a fault that came after connecting goes on: `connect` is owed once a frame is delivered. */
  silentUp: boolean;
  connects: number;
  failedProbes: number;
  failures: number;
  sentFrames: number;
  settledFrames: number;
  everAcked: boolean;
  /** False from a failure until the next successful handshake; an idle server that never failed is healthy. */
  healthy: boolean;
  /** The last close was the server's expected `keepalive: false` close: reconnect without `connect` noise. */
  cycling: boolean;
  readonly latency: LatencyRecorder;
  retryTimer: Timer | undefined;
  /** On the pool's clock. */
  retryAt: number | undefined;
  probeTimer: Timer | undefined;
}

/** Each server's identity and connection settings, from the sink's options. */
function serverEntries(o: ResolvedOptions): Entry[] {
  // The window: by bytes (`maxInFlightBytes`), and with acks by count too, so a reset re-sends at most this many
  // frames (one event each in Message mode). Without acks a frame is in flight only until the kernel takes it.
  const maxInFlightBytes = o.maxInFlightBytes;
  const maxInFlightFrames = o.requireAck ? 128 : Infinity;
  return o.servers.map((s) => {
    const id = s.path ?? `${s.host}:${s.port}`;
    return {
      info: Object.freeze({
        id,
        host: s.host,
        port: s.port,
        path: s.path,
        tls: s.tls !== undefined,
        weight: s.weight,
        standby: s.standby,
      }),
      options: {
        host: s.host,
        port: s.port,
        path: s.path,
        tls: s.tls,
        credentials:
          s.sharedKey === undefined
            ? undefined
            : {
                selfHostname: o.selfHostname,
                sharedKey: s.sharedKey,
                username: s.username,
                password: s.password,
              },
        connectTimeoutMs: o.connectTimeoutMs,
        handshakeGraceMs: o.handshakeGraceMs,
        ackTimeoutMs: o.ackTimeoutMs,
        requireAck: o.requireAck,
        maxInFlightBytes,
        maxInFlightFrames,
        label: `${s.tls ? "tls://" : s.path ? "unix://" : "tcp://"}${id}`,
      },
      weight: s.weight,
      current: 0,
      conn: undefined,
      state: "idle",
      lastError: undefined,
      fault: undefined,
      repeatedErrors: 0,
      silentUp: false,
      connects: 0,
      failedProbes: 0,
      failures: 0,
      sentFrames: 0,
      settledFrames: 0,
      everAcked: false,
      healthy: true,
      cycling: false,
      latency: new LatencyRecorder(),
      retryTimer: undefined,
      retryAt: undefined,
      probeTimer: undefined,
    };
  });
}

/**
 * The servers: weighted (smooth round-robin) balancing over healthy primaries, standbys only while every primary is
 * down, health with exponential backoff and jitter, a return probe every second while a server refuses
 * connections, failover of in-flight frames. Time and chance come from the injected Clock.
 */
export class ServerPool extends EventEmitter<ServerPoolEvents> {
  readonly #entries: Entry[];
  readonly #reconnect: { minDelayMs: number; maxDelayMs: number };
  readonly #requireAck: boolean;
  readonly #clock: Clock;
  readonly #owner: FrameOwner;
  readonly #candidates: Entry[] = [];
  #closed = false;
  #ref = true;

  constructor(options: ResolvedOptions, owner: FrameOwner, clock: Clock = systemClock) {
    super();
    this.#owner = owner;
    this.#entries = serverEntries(options);
    this.#reconnect = options.reconnect;
    this.#requireAck = options.requireAck;
    this.#clock = clock;
  }

  /**
   * True while some primary is healthy: up, or idle/connecting without a failure since its last handshake
   * (a `keepalive: false` server between frames). Standbys take traffic only when this is false.
   */
  #primaryHealthy(): boolean {
    return this.#entries.some((e) => !e.info.standby && e.healthy && e.state !== "failed");
  }

  /** Connects the idle servers that should be connected: every primary, and standbys while every primary is down. */
  demand(): void {
    if (this.#closed) return;
    const standbysNeeded = !this.#primaryHealthy();
    for (const e of this.#entries) {
      if (e.state !== "idle") continue;
      if (e.info.standby && !standbysNeeded) continue;
      this.#open(e);
    }
  }

  /** Writes `frame` to a server chosen by weight; false when no connection can take it now. */
  send(frame: Frame): boolean {
    const primary = this.#primaryHealthy();
    const candidates = this.#candidates;
    candidates.length = 0;
    for (const e of this.#entries) {
      if (e.info.standby !== primary && e.conn?.writable) candidates.push(e);
    }
    const best = pickWeighted(candidates);
    if (!best) return false;
    best.sentFrames++;
    best.conn!.write(frame);
    return true;
  }

  #timer(fn: () => void, ms: number): Timer {
    const timer = this.#clock.setTimeout(fn, ms);
    if (!this.#ref) timer.unref();
    return timer;
  }

  #stopTimers(e: Entry): void {
    this.#clock.clearTimeout(e.retryTimer);
    this.#clock.clearTimeout(e.probeTimer);
    e.retryTimer = e.probeTimer = undefined;
    e.retryAt = undefined;
  }

  #open(e: Entry): void {
    this.#stopTimers(e);
    e.state = "connecting";
    const conn = new Connection(e.options, this.#clock);
    if (e.failures > 0) conn.slowStart();
    if (!this.#ref) conn.setRef(false);
    e.conn = conn;
    conn.on("ready", () => {
      e.state = "up";
      e.healthy = true;
      e.connects++;
      // A fault of connecting ends here; one that came after connecting (a server that accepts, then
      // misbehaves) ends only with a delivered frame, so its reconnects stay silent.
      if (e.fault?.afterConnect) {
        e.silentUp = true;
      } else {
        e.fault = undefined;
        if (!e.cycling) this.emit("connect", e.info);
      }
      e.cycling = false;
      this.#owner.writable();
    });
    conn.on("written", (frame) => this.#owner.written(frame));
    conn.on("settled", (frame, latencyMs) => {
      e.failures = 0;
      e.fault = undefined;
      const connectOwed = e.silentUp;
      e.silentUp = false;
      e.settledFrames++;
      if (this.#requireAck) {
        e.everAcked = true;
        e.latency.record(latencyMs);
      }
      this.#owner.settled(frame, e.info, latencyMs);
      // Only once the sink has settled the frame: its `written` call is already counted in `sent`, so a
      // `connect` listener called before would see the frame both sent and buffered.
      if (connectOwed) this.emit("connect", e.info);
      if (conn.writable) this.#owner.writable();
    });
    conn.on("close", (error, frames) => this.#onClose(e, conn, error, frames));
    conn.connect();
  }

  #onClose(e: Entry, conn: Connection, error: Error | undefined, frames: Frame[]): void {
    if (e.conn !== conn) return;
    e.conn = undefined;
    const wasUp = e.state === "up";
    // A `keepalive: false` server closes after every frame: that is not worth a disconnect event.
    const expected = !error && !this.#closed;
    e.cycling = expected;
    if (wasUp && !expected && !e.silentUp) this.emit("disconnect", e.info, error);
    e.silentUp = false;
    if (error && (error as ForwardError).code === "FORWARD_ACK_TIMEOUT" && e.info.path && !e.everAcked) {
      error = new ForwardAckUnsupportedError(
        `acks are required but unix socket ${e.info.path} has never sent one (${error.message}); Fluentd's in_unix ` +
          "never acknowledges: use requireAck: false for unix sockets. The server is taken out of rotation.",
      );
      e.state = "failed";
      e.healthy = false;
    } else if (this.#closed) {
      e.state = "idle";
    } else if (error) {
      e.state = "down";
      e.healthy = false;
      e.failures++;
    } else {
      e.state = "idle";
    }
    if (error) {
      const code = (error as ForwardError).code ?? "FORWARD_CONNECTION_CLOSED";
      e.lastError = { code, message: error.message, at: new Date() };
      if (e.fault?.code === code) {
        e.repeatedErrors++;
      } else {
        e.fault = { code, afterConnect: wasUp };
        this.emit("serverError", error as ForwardError, e.info);
      }
    }
    if (frames.length > 0) this.#owner.returned(frames);
    if (this.#closed) return;
    if (e.state === "down") this.#scheduleRetry(e);
    // A primary went away: standbys may be needed now.
    if (!e.info.standby) this.demand();
    this.#owner.writable();
  }

  #scheduleRetry(e: Entry): void {
    const delay = backoffDelay(e.failures, this.#reconnect, this.#clock.random());
    e.retryAt = this.#clock.now() + delay;
    e.retryTimer = this.#timer(() => {
      e.retryTimer = undefined;
      this.#retry(e);
    }, delay);
    if (delay > RETURN_PROBE_MS && e.fault !== undefined && PROBED_CODES.has(e.fault.code))
      this.#scheduleProbe(e);
  }

  #retry(e: Entry): void {
    if (this.#closed || e.state !== "down") return;
    // A standby is only re-probed while it is needed.
    if (e.info.standby && this.#primaryHealthy()) {
      this.#stopTimers(e);
      e.state = "idle";
      return;
    }
    this.#open(e);
  }

  /**
   * Like Fluentd's heartbeat: every second while the backoff is long, a bare connect (no TLS, no handshake) to a
   * server that refused; once one succeeds the real connection is opened at once, so traffic resumes within about
   * a second of the server listening again, whatever the backoff had grown to.
   */
  #scheduleProbe(e: Entry): void {
    e.probeTimer = this.#timer(() => {
      e.probeTimer = undefined;
      if (this.#closed || e.state !== "down") return;
      if (e.retryAt !== undefined && e.retryAt - this.#clock.now() <= RETURN_PROBE_MS) return;
      const probe = connect({ ...e.options, tls: undefined }, this.#clock, (error) => {
        probe?.destroy();
        if (this.#closed || e.state !== "down") return;
        if (error) {
          e.failedProbes++;
          this.#scheduleProbe(e);
        } else this.#retry(e);
      });
      if (probe && !this.#ref) probe.unref();
      probe?.on("error", () => {});
    }, RETURN_PROBE_MS);
  }

  /** Lets connections, probes and retry timers keep the process alive (`true`, while the sink holds events) or not. */
  setRef(ref: boolean): void {
    this.#ref = ref;
    const method = ref ? "ref" : "unref";
    for (const e of this.#entries) {
      e.conn?.setRef(ref);
      e.retryTimer?.[method]();
      e.probeTimer?.[method]();
    }
  }

  /** Re-probes at once every server waiting out a backoff (used when closing, to drain wherever possible). */
  probeDown(): void {
    if (this.#closed) return;
    for (const e of this.#entries) {
      if (e.state !== "down") continue;
      if (e.info.standby && this.#primaryHealthy()) continue;
      this.#open(e);
    }
  }

  /** Closes every connection and stops reconnecting; in-flight frames come back through `owner.returned`. */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries) {
      this.#stopTimers(e);
      e.conn?.close();
    }
  }

  /** Per-server figures. */
  stats(): ServerStats[] {
    const now = this.#clock.now();
    return this.#entries.map((e) => ({
      ...e.info,
      state: e.state,
      lastError: e.lastError,
      fault: e.fault?.code,
      repeatedErrors: e.repeatedErrors,
      connects: e.connects,
      failedProbes: e.failedProbes,
      failures: e.failures,
      sentFrames: e.sentFrames,
      settledFrames: e.settledFrames,
      inFlightFrames: e.conn?.inFlightCount ?? 0,
      ackLatencyMs: e.latency.percentiles(),
      nextRetryAt: e.retryAt === undefined ? undefined : new Date(Date.now() + (e.retryAt - now)),
    }));
  }
}
