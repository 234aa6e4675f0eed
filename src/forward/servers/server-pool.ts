import net from "node:net";
import { EventEmitter } from "eventemitter3";
import type { Frame } from "../batching/frame.js";
import type { Clock, Timer } from "../clock.js";
import { ForwardAckUnsupportedError, type ForwardError } from "../errors.js";
import type { ResolvedOptions, ResolvedServer } from "../options.js";
import { connect } from "../transport/connect.js";
import { Connection, type ConnectionOptions } from "../transport/connection.js";
import { backoffDelay } from "./backoff.js";
import { pickWeighted } from "./balance.js";
import { Discovery, type Endpoint } from "./discovery.js";
import { LatencyRecorder } from "./latency.js";
import { dnsServersResolver, systemResolver, type NameResolver } from "./resolver.js";
import { nextState, type ServerEvent, type ServerHealth } from "./server-state.js";

export type { ServerHealth } from "./server-state.js";

/**
 * Identity of a server (one address of a configured server) as passed to `connect`, `disconnect`, `ack` and
 * `serverError` listeners.
 */
export interface ServerInfo {
  /**
   * `ip:port` for a server given by address, `name:port/ip` for one address of a host name or SRV target,
   * `name:port` for a name not resolved yet (its `FORWARD_RESOLVE_FAILED`), or the unix socket path.
   */
  readonly id: string;
  /** The host as configured (a name or an IP), or the SRV target's name. */
  readonly host: string;
  /** The IP address connected to; undefined for a unix socket and for a name not resolved yet. */
  readonly address: string | undefined;
  readonly port: number;
  readonly path: string | undefined;
  readonly tls: boolean;
  readonly weight: number;
  /** True when `tier` > 0: the server takes traffic only while every server of a lower tier is down. */
  readonly standby: boolean;
  /** 0 for primaries; 1 for standbys; with SRV, the rank of the record's priority (0 for the lowest). */
  readonly tier: number;
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
  /** A socket took every byte of `frame` (again, when it is re-sent). */
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

/** One configured server (`servers[i]`) and the endpoints discovery found for it. */
interface Group {
  readonly key: string;
  readonly server: ResolvedServer;
  /** The configured server itself, for what happens before it has endpoints (a failed lookup). */
  readonly info: ServerInfo;
  readonly discovery: Discovery;
  readonly entries: Map<string, Entry>;
  lastError: ServerStats["lastError"];
}

/** One endpoint: its settings, connection, health and place in the rotation. */
interface Entry {
  info: ServerInfo;
  readonly options: ConnectionOptions;
  readonly group: Group;
  /** Balancing. */
  weight: number;
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
  /** The last close was expected (`keepalive: false`, or a recycled connection): reconnect without `connect` noise. */
  cycling: boolean;
  /** Discovery or `setServers` took it out: it takes no frames and leaves the pool once its connection closed. */
  removed: boolean;
  readonly latency: LatencyRecorder;
  retryTimer: Timer | undefined;
  /** On the pool's clock. */
  retryAt: number | undefined;
  probeTimer: Timer | undefined;
  ageTimer: Timer | undefined;
}

/** The identity of a configured server: two configurations that give the same key are the same server. */
function groupKey(s: ResolvedServer): string {
  return JSON.stringify(s);
}

function scheme(s: ResolvedServer): string {
  return s.tls ? "tls://" : s.path ? "unix://" : "tcp://";
}

/** The configured server before any lookup: `name:port`, or its SRV name, or its unix path. */
function configuredInfo(s: ResolvedServer): ServerInfo {
  const id = s.path ?? s.srv ?? hostPort(s.host, s.port);
  return Object.freeze({
    id,
    host: s.srv ?? s.host,
    address: s.path === undefined && net.isIP(s.host) !== 0 ? s.host : undefined,
    port: s.port,
    path: s.path,
    tls: s.tls !== undefined,
    weight: s.weight,
    standby: s.standby,
    tier: s.standby ? 1 : 0,
  });
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The servers: every configured server expands to the endpoints discovery finds for it (itself, every address of a
 * host name, the targets of an SRV name) and follows them as they change; `setServers` replaces the configuration at
 * run time. Weighted (smooth round-robin) balancing over the healthy endpoints of the lowest tier (standbys and
 * later SRV priorities only while every lower tier is down), health with exponential backoff and jitter, a return
 * probe every second while a server refuses connections, failover of in-flight frames, endpoints that leave
 * drained, connections recycled at `maxConnectionAgeMs`. States and transitions: server-state.ts. Time and chance
 * come from the injected Clock.
 */
export class ServerPool extends EventEmitter<ServerPoolEvents> {
  readonly #options: ResolvedOptions;
  readonly #resolver: NameResolver;
  readonly #clock: Clock;
  readonly #owner: FrameOwner;
  #groups: Group[] = [];
  /** Every endpoint of every group, removed ones included until they close: the balancing order. */
  #entries: Entry[] = [];
  readonly #candidates: Entry[] = [];
  /** Frames were asked for once: names are being resolved and servers connected. */
  #started = false;
  #closed = false;
  #ref = true;

  constructor(
    options: ResolvedOptions,
    owner: FrameOwner,
    clock: Clock = options.clock,
    resolver?: NameResolver,
  ) {
    super();
    this.#owner = owner;
    this.#options = options;
    this.#clock = clock;
    this.#resolver =
      resolver ??
      (options.dns.servers ? dnsServersResolver(options.dns.servers, options.dns.timeoutMs) : systemResolver);
    this.#groups = options.servers.map((s) => this.#newGroup(s));
    for (const g of this.#groups) this.#startDiscovery(g);
  }

  /** A fixed address has its endpoint at once (no I/O), so stats() lists it before the first event; names wait for it. */
  #startDiscovery(g: Group): void {
    if (g.discovery.isStatic || this.#started) g.discovery.start();
  }

  #newGroup(server: ResolvedServer): Group {
    const group: Group = {
      key: groupKey(server),
      server,
      info: configuredInfo(server),
      discovery: undefined as unknown as Discovery,
      entries: new Map(),
      lastError: undefined,
    };
    const discovery = new Discovery(
      server,
      { refreshMs: this.#options.dns.refreshMs, resolver: this.#resolver, clock: this.#clock },
      {
        endpoints: (endpoints) => this.#onEndpoints(group, endpoints),
        failed: (error) => {
          group.lastError = { code: error.code, message: error.message, at: new Date() };
          this.emit("serverError", error, group.info);
        },
      },
    );
    (group as { discovery: Discovery }).discovery = discovery;
    if (!this.#ref) discovery.setRef(false);
    return group;
  }

  /**
   * Replaces the configured servers at run time (the sink's `setServers`). A server in both lists keeps its
   * connections; a new one joins the rotation; one that left is drained: it takes no new frames, what it has in
   * flight is acked (or re-sent elsewhere if it fails), then it closes.
   */
  setServers(servers: readonly ResolvedServer[]): void {
    if (this.#closed) return;
    const current = new Map(this.#groups.map((g) => [g.key, g]));
    const next: Group[] = [];
    const added: Group[] = [];
    for (const server of servers) {
      const key = groupKey(server);
      if (next.some((g) => g.key === key)) continue;
      const kept = current.get(key);
      const group = kept ?? this.#newGroup(server);
      if (!kept) added.push(group);
      next.push(group);
      current.delete(key);
    }
    this.#groups = next;
    for (const g of added) this.#startDiscovery(g);
    for (const gone of current.values()) {
      gone.discovery.stop();
      for (const e of gone.entries.values()) this.#remove(e);
    }
    this.#rebuild();
    if (this.#started) this.demand();
    this.#owner.writable();
  }

  /** Discovery found a new set of endpoints for `group`: new ones join, missing ones are drained. */
  #onEndpoints(group: Group, endpoints: readonly Endpoint[]): void {
    if (this.#closed || !this.#groups.includes(group)) return;
    const keep = new Set<string>();
    for (const endpoint of endpoints) {
      keep.add(endpoint.key);
      const existing = group.entries.get(endpoint.key);
      if (existing && !existing.removed) {
        existing.info = this.#endpointInfo(group.server, endpoint);
        existing.weight = endpoint.weight;
      } else {
        group.entries.set(endpoint.key, this.#newEntry(group, endpoint));
      }
    }
    for (const [key, e] of group.entries) if (!keep.has(key)) this.#remove(e);
    this.#rebuild();
    if (this.#started) this.demand();
  }

  #endpointInfo(s: ResolvedServer, endpoint: Endpoint): ServerInfo {
    const byName = endpoint.address !== undefined && endpoint.address !== endpoint.host;
    return Object.freeze({
      id: s.path ?? (byName ? `${endpoint.host}:${endpoint.port}/${endpoint.address}` : endpoint.key),
      host: endpoint.host,
      address: endpoint.address,
      port: endpoint.port,
      path: s.path,
      tls: s.tls !== undefined,
      weight: endpoint.weight,
      standby: endpoint.tier > 0,
      tier: endpoint.tier,
    });
  }

  #newEntry(group: Group, endpoint: Endpoint): Entry {
    const o = this.#options;
    const s = group.server;
    const info = this.#endpointInfo(s, endpoint);
    // The window: by bytes (`maxInFlightBytes`), and with acks by count too, so a reset re-sends at most this many
    // frames (one event each in Message mode). Without acks a frame is in flight only until the kernel takes it.
    return {
      info,
      group,
      options: {
        host: endpoint.address ?? s.host,
        name: endpoint.host,
        port: endpoint.port,
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
        // With acks the ack deadline notices a silent server; Fluentd's in_unix never acks at all.
        heartbeat: o.requireAck || s.path !== undefined ? undefined : o.heartbeat,
        ackTimeoutMs: o.ackTimeoutMs,
        requireAck: o.requireAck,
        maxInFlightBytes: o.maxInFlightBytes,
        maxInFlightFrames: o.requireAck ? 128 : Infinity,
        label: `${scheme(s)}${info.id}`,
      },
      weight: endpoint.weight,
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
      removed: false,
      latency: new LatencyRecorder(),
      retryTimer: undefined,
      retryAt: undefined,
      probeTimer: undefined,
      ageTimer: undefined,
    };
  }

  /** Every endpoint of every group, in configuration order. */
  #rebuild(): void {
    const entries: Entry[] = [];
    for (const g of this.#groups) for (const e of g.entries.values()) entries.push(e);
    // Removed endpoints of groups that left stay listed until their connection closed.
    for (const e of this.#entries) if (e.removed && e.conn && !entries.includes(e)) entries.push(e);
    this.#entries = entries;
  }

  #transition(e: Entry, event: ServerEvent): void {
    e.state = nextState(e.state, event);
  }

  /** Takes `e` out of the rotation: at once when it has no connection, else once its connection has closed. */
  #remove(e: Entry): void {
    if (e.removed) return;
    e.removed = true;
    this.#stopTimers(e);
    if (e.conn) {
      this.#transition(e, "drain");
      e.conn.drain();
    } else {
      e.group.entries.delete(this.#keyOf(e));
    }
  }

  #keyOf(e: Entry): string {
    for (const [key, entry] of e.group.entries) if (entry === e) return key;
    return "";
  }

  /** The lowest tier with a healthy endpoint: it and the tiers below it are used; Infinity when none is healthy. */
  #neededTier(): number {
    let tier = Infinity;
    for (const e of this.#entries) {
      if (e.removed || !e.healthy || e.state === "failed") continue;
      if (e.info.tier < tier) tier = e.info.tier;
    }
    return tier;
  }

  /** Starts discovery, then connects the idle endpoints that should be connected: those of every tier needed. */
  demand(): void {
    if (this.#closed) return;
    if (!this.#started) {
      this.#started = true;
      for (const g of this.#groups) g.discovery.start();
    }
    const needed = this.#neededTier();
    for (const e of this.#entries) {
      if (e.state !== "idle" || e.removed) continue;
      if (e.info.tier > needed) continue;
      this.#open(e);
    }
  }

  /** Writes `frame` to a server chosen by weight among the lowest tier that can take it; false when none can now. */
  send(frame: Frame): boolean {
    const needed = this.#neededTier();
    const candidates = this.#candidates;
    candidates.length = 0;
    let tier = Infinity;
    for (const e of this.#entries) {
      const t = e.info.tier;
      if (t > needed || t > tier || e.removed || !e.conn?.writable) continue;
      if (t < tier) {
        tier = t;
        candidates.length = 0;
      }
      candidates.push(e);
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
    this.#transition(e, "open");
    const conn = new Connection(e.options, this.#clock);
    if (e.failures > 0) conn.slowStart();
    if (!this.#ref) conn.setRef(false);
    e.conn = conn;
    conn.on("ready", () => {
      this.#transition(e, "ready");
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
      this.#armAge(e, conn);
      this.#owner.writable();
    });
    conn.on("written", (frame) => this.#owner.written(frame));
    conn.on("settled", (frame, latencyMs) => {
      e.failures = 0;
      e.fault = undefined;
      const connectOwed = e.silentUp;
      e.silentUp = false;
      e.settledFrames++;
      if (this.#options.requireAck) {
        e.everAcked = true;
        e.latency.record(latencyMs);
      }
      this.#owner.settled(frame, e.info, latencyMs);
      // Only once the sink has settled the frame: its `written` event is already counted in `sent`, so a
      // `connect` listener called before would see the frame both sent and buffered.
      if (connectOwed) this.emit("connect", e.info);
      if (conn.writable) this.#owner.writable();
    });
    conn.on("stalled", (error) => {
      this.#transition(e, "stall");
      e.healthy = false;
      this.#report(e, error, true);
      // Its share goes to the others now; a lower tier may be needed.
      this.demand();
      this.#owner.writable();
    });
    conn.on("resumed", () => {
      this.#transition(e, "resume");
      e.healthy = true;
      // The fault ends with a delivered frame, which also brings the `connect` it owes.
      e.silentUp = true;
      this.#owner.writable();
    });
    conn.on("close", (error, frames) => this.#onClose(e, conn, error, frames));
    conn.connect();
  }

  /** With `maxConnectionAgeMs`: the connection is drained when it is that old, less up to 10 % at random. */
  #armAge(e: Entry, conn: Connection): void {
    const maxAge = this.#options.maxConnectionAgeMs;
    if (maxAge === undefined) return;
    e.ageTimer = this.#timer(
      () => {
        e.ageTimer = undefined;
        if (e.conn !== conn || e.state !== "up") return;
        this.#transition(e, "drain");
        conn.drain();
      },
      Math.round(maxAge * (1 - 0.1 * this.#clock.random())),
    );
  }

  #onClose(e: Entry, conn: Connection, error: Error | undefined, frames: Frame[]): void {
    if (e.conn !== conn) return;
    e.conn = undefined;
    this.#clock.clearTimeout(e.ageTimer);
    e.ageTimer = undefined;
    const wasUp = e.state === "up" || e.state === "stalled" || e.state === "draining";
    if (e.removed) {
      this.#forget(e, error, frames, wasUp);
      return;
    }
    // An expected close (`keepalive: false` after its frame, a recycled connection) is not worth a disconnect event.
    const expected = !error && !this.#closed;
    e.cycling = expected;
    if (wasUp && !expected && !e.silentUp) this.emit("disconnect", e.info, error);
    e.silentUp = false;
    if (error && (error as ForwardError).code === "FORWARD_ACK_TIMEOUT" && e.info.path && !e.everAcked) {
      error = new ForwardAckUnsupportedError(
        `acks are required but unix socket ${e.info.path} has never sent one (${error.message}); Fluentd's in_unix ` +
          "never acknowledges: use requireAck: false for unix sockets. The server is taken out of rotation.",
      );
      this.#transition(e, "giveUp");
      e.healthy = false;
    } else if (this.#closed || !error) {
      this.#transition(e, "close");
    } else {
      this.#transition(e, "fail");
      e.healthy = false;
      e.failures++;
    }
    if (error) this.#report(e, error, wasUp, !conn.confirmed);
    if (frames.length > 0) this.#owner.returned(frames);
    if (this.#closed) return;
    if (e.state === "down") this.#scheduleRetry(e);
    // A server of a lower tier went away, or a recycled connection wants its successor: demand decides.
    this.demand();
    this.#owner.writable();
  }

  /** A removed endpoint's connection closed: it leaves the pool; what it had in flight goes to the others. */
  #forget(e: Entry, error: Error | undefined, frames: Frame[], wasUp: boolean): void {
    this.#transition(e, error && !this.#closed ? "fail" : "close");
    if (error) this.#report(e, error, wasUp);
    if (wasUp) this.emit("disconnect", e.info, error);
    const key = this.#keyOf(e);
    if (key) e.group.entries.delete(key);
    this.#entries = this.#entries.filter((x) => x !== e);
    if (frames.length > 0) this.#owner.returned(frames);
    if (this.#closed) return;
    this.demand();
    this.#owner.writable();
  }

  /**
   * Records a failure and reports it once per fault. `unconfirmed`: the connection died before the server showed it
   * takes anything; while the fault is a refused handshake, such a hang-up (a server with `<security>` that reset
   * the connection before its HELO could be read) is that fault again, not a new one.
   */
  #report(e: Entry, error: Error, afterConnect: boolean, unconfirmed = false): void {
    const code = (error as ForwardError).code ?? "FORWARD_CONNECTION_CLOSED";
    e.lastError = { code, message: error.message, at: new Date() };
    const sameRefusal =
      unconfirmed && e.fault?.code === "FORWARD_AUTH_FAILED" && code === "FORWARD_CONNECTION_CLOSED";
    if (e.fault?.code === code || sameRefusal) {
      e.repeatedErrors++;
    } else {
      e.fault = { code, afterConnect };
      this.emit("serverError", error as ForwardError, e.info);
    }
  }

  #scheduleRetry(e: Entry): void {
    const delay = backoffDelay(e.failures, this.#options.reconnect, this.#clock.random());
    e.retryAt = this.#clock.now() + delay;
    e.retryTimer = this.#timer(() => {
      e.retryTimer = undefined;
      this.#retry(e);
    }, delay);
    if (delay > RETURN_PROBE_MS && e.fault !== undefined && PROBED_CODES.has(e.fault.code))
      this.#scheduleProbe(e);
  }

  #retry(e: Entry): void {
    if (this.#closed || e.state !== "down" || e.removed) return;
    // A standby is only re-probed while it is needed.
    if (e.info.tier > this.#neededTier()) {
      this.#stopTimers(e);
      this.#transition(e, "park");
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
      if (this.#closed || e.state !== "down" || e.removed) return;
      if (e.retryAt !== undefined && e.retryAt - this.#clock.now() <= RETURN_PROBE_MS) return;
      const probe = connect({ ...e.options, tls: undefined }, this.#clock, (error) => {
        probe?.destroy();
        if (this.#closed || e.state !== "down" || e.removed) return;
        if (error) {
          e.failedProbes++;
          this.#scheduleProbe(e);
        } else this.#retry(e);
      });
      if (probe && !this.#ref) probe.unref();
      probe?.on("error", () => {});
    }, RETURN_PROBE_MS);
  }

  /** Lets connections, lookups, probes and retry timers keep the process alive (`true`, while the sink holds events) or not. */
  setRef(ref: boolean): void {
    this.#ref = ref;
    const method = ref ? "ref" : "unref";
    for (const g of this.#groups) g.discovery.setRef(ref);
    for (const e of this.#entries) {
      e.conn?.setRef(ref);
      e.retryTimer?.[method]();
      e.probeTimer?.[method]();
      e.ageTimer?.[method]();
    }
  }

  /** Re-probes at once every server waiting out a backoff (used when closing, to drain wherever possible). */
  probeDown(): void {
    if (this.#closed) return;
    const needed = this.#neededTier();
    for (const e of this.#entries) {
      if (e.state !== "down" || e.removed) continue;
      if (e.info.tier > needed) continue;
      this.#open(e);
    }
  }

  /** Closes every connection and stops resolving and reconnecting; in-flight frames come back through `owner.returned`. */
  close(): void {
    this.#closed = true;
    for (const g of this.#groups) g.discovery.stop();
    for (const e of this.#entries) {
      this.#stopTimers(e);
      this.#clock.clearTimeout(e.ageTimer);
      e.conn?.close();
    }
  }

  /** Per-server figures: every endpoint, and each configured server that has none yet (a name not resolved). */
  stats(): ServerStats[] {
    const now = this.#clock.now();
    const rows: ServerStats[] = [];
    for (const g of this.#groups) {
      if (g.entries.size > 0) continue;
      rows.push({
        ...g.info,
        state: "idle",
        lastError: g.lastError,
        fault: g.lastError?.code,
        repeatedErrors: 0,
        connects: 0,
        failedProbes: 0,
        failures: 0,
        sentFrames: 0,
        settledFrames: 0,
        inFlightFrames: 0,
        ackLatencyMs: undefined,
        nextRetryAt: undefined,
      });
    }
    for (const e of this.#entries) {
      rows.push({
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
      });
    }
    return rows;
  }
}
