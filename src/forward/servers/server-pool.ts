import { EventEmitter } from "eventemitter3";
import { Connection, type ConnectionOptions } from "./connection.js";
import { ForwardAckUnsupportedError, type ForwardError } from "./errors.js";
import type { Frame } from "./frame.js";
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
  /** Successful connections (handshake included). */
  connects: number;
  /** The ongoing fault's code (reported once by `serverError`), until a frame is delivered or a connect succeeds after it. */
  fault: string | undefined;
  /** `serverError`s not emitted because they repeated the ongoing fault (over the sink's life). */
  repeatedErrors: number;
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

/** Internal state of one server. */
interface Entry {
  info: ServerInfo;
  options: ConnectionOptions;
  conn: Connection | undefined;
  state: ServerHealth;
  lastError: ServerStats["lastError"];
  /** The fault being reported: its code, and whether it came before the handshake completed or after. */
  fault: { code: string; afterConnect: boolean } | undefined;
  repeatedErrors: number;
  /** Up while a fault that came after connecting goes on: `connect` is owed once a frame is delivered. */
  silentUp: boolean;
  connects: number;
  failures: number;
  sentFrames: number;
  settledFrames: number;
  everAcked: boolean;
  /** False from a failure until the next successful handshake; an idle server that never failed is healthy. */
  healthy: boolean;
  /** The last close was the server's expected `keepalive: false` close: reconnect without `connect` noise. */
  cycling: boolean;
  latency: LatencyRecorder;
  retryTimer: NodeJS.Timeout | undefined;
  nextRetryAt: number | undefined;
  current: number;
}

/** Events of the pool; internal (the sink re-emits them). */
export interface ServerPoolEvents {
  connect: [server: ServerInfo];
  disconnect: [server: ServerInfo, reason: Error | undefined];
  serverError: [error: ForwardError, server: ServerInfo];
  written: [frame: Frame];
  settled: [frame: Frame, server: ServerInfo, latencyMs: number];
  requeue: [frames: Frame[]];
  /** Some connection can take frames now. */
  writable: [];
}

/** One server's connection settings plus its place in the rotation; internal. */
export interface PoolServer {
  info: ServerInfo;
  options: ConnectionOptions;
}

/**
 * The servers: weighted (smooth round-robin) balancing over healthy primaries, standbys only while every primary
 * is down, health with exponential backoff and jitter, failover of in-flight frames; internal.
 */
export class ServerPool extends EventEmitter<ServerPoolEvents> {
  private readonly entries: Entry[];
  private closed = false;
  private ref = true;

  constructor(
    servers: PoolServer[],
    private readonly reconnect: { minDelayMs: number; maxDelayMs: number },
    private readonly requireAck: boolean,
  ) {
    super();
    this.entries = servers.map((s) => ({
      info: s.info,
      options: s.options,
      conn: undefined,
      state: "idle",
      lastError: undefined,
      fault: undefined,
      repeatedErrors: 0,
      silentUp: false,
      connects: 0,
      failures: 0,
      sentFrames: 0,
      settledFrames: 0,
      everAcked: false,
      healthy: true,
      cycling: false,
      latency: new LatencyRecorder(),
      retryTimer: undefined,
      nextRetryAt: undefined,
      current: 0,
    }));
  }

  /**
   * True while some primary is healthy: up, or idle/connecting without a failure since its last handshake
   * (a `keepalive: false` server between frames). Standbys take traffic only when this is false.
   */
  private primaryHealthy(): boolean {
    return this.entries.some((e) => !e.info.standby && e.healthy && e.state !== "failed");
  }

  /** Connects the idle servers that should be connected: every primary, and standbys while every primary is down. */
  demand(): void {
    if (this.closed) return;
    const standbysNeeded = !this.primaryHealthy();
    for (const e of this.entries) {
      if (e.state !== "idle") continue;
      if (e.info.standby && !standbysNeeded) continue;
      this.open(e);
    }
  }

  /** Writes `frame` to a server chosen by weight; false when no connection can take it now. */
  send(frame: Frame): boolean {
    const primary = this.primaryHealthy();
    let best: Entry | undefined;
    let total = 0;
    for (const e of this.entries) {
      if (e.info.standby === primary || !e.conn?.writable) continue;
      e.current += e.info.weight;
      total += e.info.weight;
      if (!best || e.current > best.current) best = e;
    }
    if (!best) return false;
    best.current -= total;
    best.sentFrames++;
    best.conn!.write(frame);
    return true;
  }

  private open(e: Entry): void {
    clearTimeout(e.retryTimer);
    e.retryTimer = undefined;
    e.nextRetryAt = undefined;
    e.state = "connecting";
    const conn = new Connection(e.options);
    if (e.failures > 0) conn.slowStart();
    if (!this.ref) conn.setRef(false);
    e.conn = conn;
    conn.on("ready", () => {
      e.state = "up";
      e.healthy = true;
      e.connects++;
      // A fault of connecting ends here; one that came after connecting (a server that accepts, then
      // misbehaves) ends only with a delivered frame, so its reconnects stay silent.
      if (e.fault?.afterConnect) e.silentUp = true;
      else {
        e.fault = undefined;
        if (!e.cycling) this.emit("connect", e.info);
      }
      e.cycling = false;
      this.emit("writable");
    });
    conn.on("written", (frame) => this.emit("written", frame));
    conn.on("settled", (frame, latencyMs) => {
      e.failures = 0;
      e.fault = undefined;
      if (e.silentUp) {
        e.silentUp = false;
        this.emit("connect", e.info);
      }
      e.settledFrames++;
      if (this.requireAck) {
        e.everAcked = true;
        e.latency.record(latencyMs);
      }
      this.emit("settled", frame, e.info, latencyMs);
      if (conn.writable) this.emit("writable");
    });
    conn.on("close", (error, frames) => this.onClose(e, conn, error, frames));
    conn.connect();
  }

  private onClose(e: Entry, conn: Connection, error: Error | undefined, frames: Frame[]): void {
    if (e.conn !== conn) return;
    e.conn = undefined;
    const wasUp = e.state === "up";
    // A `keepalive: false` server closes after every frame: that is not worth a disconnect event.
    const expected = !error && !this.closed;
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
    } else if (this.closed) {
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
    if (frames.length > 0) this.emit("requeue", frames);
    if (this.closed) return;
    if (e.state === "down") this.scheduleRetry(e);
    // A primary went away: standbys may be needed now.
    if (!e.info.standby) this.demand();
    this.emit("writable");
  }

  private scheduleRetry(e: Entry): void {
    const { minDelayMs, maxDelayMs } = this.reconnect;
    const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(30, e.failures - 1));
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    e.nextRetryAt = Date.now() + delay;
    e.retryTimer = setTimeout(() => {
      e.retryTimer = undefined;
      if (this.closed || e.state !== "down") return;
      // A standby is only re-probed while it is needed.
      if (e.info.standby && this.primaryHealthy()) {
        e.state = "idle";
        return;
      }
      this.open(e);
    }, delay);
    if (!this.ref) e.retryTimer.unref();
  }

  /** Lets connections and retry timers keep the process alive (`true`, while the sink holds events) or not. */
  setRef(ref: boolean): void {
    this.ref = ref;
    for (const e of this.entries) {
      e.conn?.setRef(ref);
      if (ref) e.retryTimer?.ref();
      else e.retryTimer?.unref();
    }
  }

  /** Re-probes at once every server waiting out a backoff (used when closing, to drain wherever possible). */
  probeDown(): void {
    if (this.closed) return;
    for (const e of this.entries) {
      if (e.state !== "down") continue;
      if (e.info.standby && this.primaryHealthy()) continue;
      this.open(e);
    }
  }

  /** Closes every connection and stops reconnecting; in-flight frames come back through `requeue`. */
  close(): void {
    this.closed = true;
    for (const e of this.entries) {
      clearTimeout(e.retryTimer);
      e.retryTimer = undefined;
      e.nextRetryAt = undefined;
      e.conn?.close();
    }
  }

  /** Per-server figures. */
  stats(): ServerStats[] {
    return this.entries.map((e) => ({
      ...e.info,
      state: e.state,
      lastError: e.lastError,
      fault: e.fault?.code,
      repeatedErrors: e.repeatedErrors,
      connects: e.connects,
      failures: e.failures,
      sentFrames: e.sentFrames,
      settledFrames: e.settledFrames,
      inFlightFrames: e.conn?.inFlightCount ?? 0,
      ackLatencyMs: e.latency.percentiles(),
      nextRetryAt: e.nextRetryAt === undefined ? undefined : new Date(e.nextRetryAt),
    }));
  }
}
