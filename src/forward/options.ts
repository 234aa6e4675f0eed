import { isIP } from "node:net";
import os from "node:os";
import type tls from "node:tls";
import { InvalidOptionError } from "../errors.js";
import { isClock, systemClock, type Clock } from "./clock.js";
import {
  assertObject,
  booleanOption,
  describe,
  enumOption,
  integerOption,
  nestedOptions,
  rejectUnknownKeys,
  stringOption,
} from "../options.js";
import type { ForwardMode } from "./protocol/frame-encoder.js";

/** What to do when an event arrives and the buffer already holds `bufferLimitBytes`. */
export type OverflowPolicy = "block" | "dropOldest" | "dropNewest";

/** One Forward server in `servers`. Credentials left out fall back to the sink-level ones. */
export interface ForwardServerOptions {
  /** Host name or IP. Default `"127.0.0.1"`. */
  host?: string;
  /** TCP port. Default `24224`. */
  port?: number;
  /** Unix socket path; when set, `host` and `port` are ignored. */
  path?: string;
  /**
   * A DNS SRV name (`_fluentd._tcp.aggregators.logging.svc.cluster.local`): its records' targets and ports are the
   * servers, the lowest priority takes the traffic (the next only while every one before is down), weights share
   * it. Replaces `host`, `port` and `path`; `weight` and `standby` do not apply.
   */
  srv?: string;
  /**
   * `true`, Node TLS options (`ca`, `cert`/`key` for mutual TLS, `servername`, `rejectUnauthorized`), or a function
   * giving them for each new connection, such as `tlsFiles({ caFile, certFile, keyFile })` (files renewed in place
   * are picked up). Default: plain TCP.
   */
  tls?: boolean | tls.ConnectionOptions | (() => tls.ConnectionOptions);
  /** Share of the traffic among healthy primaries (integer >= 1). Default `60`, like Fluentd. */
  weight?: number;
  /** A standby takes traffic only while every primary is down. Default `false`. */
  standby?: boolean;
  /** Shared key for the HELO/PING/PONG handshake; required when the server has `<security>`. Default: the sink's `sharedKey`. */
  sharedKey?: string;
  /** User name, when the server requires user authentication. Default: the sink's `username`. */
  username?: string;
  /** Password for `username`. Default: the sink's `password`. */
  password?: string;
}

/** Options of `new ForwardSink(options)`. Every field is optional; defaults are given per field. */
export interface ForwardSinkOptions {
  /** Server host (single-server shorthand). Default `"127.0.0.1"`. */
  host?: string;
  /** Server port (single-server shorthand). Default `24224`. */
  port?: number;
  /** Unix socket path of a single server (instead of host/port). */
  path?: string;
  /** TLS for the single server: `true`, Node TLS connection options, or `tlsFiles(…)`. Default: plain TCP. */
  tls?: boolean | tls.ConnectionOptions | (() => tls.ConnectionOptions);
  /** Several servers, balanced by weight with standbys; replaces host/port/path/tls. */
  servers?: ForwardServerOptions[];
  /** Event mode of the frames. Default `"PackedForward"` (entries as msgpack bin with a `size` option). */
  mode?: ForwardMode;
  /**
   * gzip level of CompressedPackedForward frames, 1 (fastest) to 9 (smallest); allowed with that mode only. Default
   * `1`: several times less CPU than zlib's default 6 for about a fifth more bytes, and every level decodes the same.
   */
  compressionLevel?: number;
  /** `true`: times are EventTime (ext type 0, nanoseconds); `false`: integer seconds. Default `true`. */
  eventTime?: boolean;
  /** Ask for an ack per frame (random 128-bit chunk id) and re-send on timeout or disconnect. Default `false`. */
  requireAck?: boolean;
  /**
   * How long a frame may wait for its ack before the connection is closed and the frame re-sent; without acks,
   * how long a written frame may sit unsent in the socket (server not reading). Default `30000` ms.
   */
  ackTimeoutMs?: number;
  /** Shared key for the handshake (servers with `<security>`). Default: none (no handshake expected). */
  sharedKey?: string;
  /** Our hostname in PING. Default `os.hostname()`. */
  selfHostname?: string;
  /** User name for servers with user authentication. Default: none. */
  username?: string;
  /** Password for `username`. Default: none. */
  password?: string;
  /** Time allowed to connect, and again to complete the handshake. Default `5000` ms. */
  connectTimeoutMs?: number;
  /**
   * Without `sharedKey` and without acks: frames written in a new connection's first `handshakeGraceMs` count as
   * sent only once that time has passed with no HELO and no error from the server. A server with `<security>`
   * (or something that is not a Forward input) drops what came before its handshake: those frames are then kept
   * and re-sent, not counted as sent. `0` counts a frame as sent as soon as it is written. Default `1000` ms.
   */
  handshakeGraceMs?: number;
  /** Backoff between reconnects to a failing server: doubles from `minDelayMs` (default `500`) up to `maxDelayMs` (default `30000`), with jitter. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /**
   * When a tag's batch becomes a frame: at `maxEvents` events (default `1000`), `maxBytes` encoded bytes
   * (default `1048576`), or `maxDelayMs` after its first event (default `100`). Suits one record a second
   * (sent within 100 ms) as well as 100k events a second (1000-event frames).
   */
  batch?: { maxEvents?: number; maxBytes?: number; maxDelayMs?: number };
  /** Bytes of events not yet acknowledged (or written, without acks) the sink may hold. Default `67108864` (64 MiB). */
  bufferLimitBytes?: number;
  /**
   * Per connection, stop handing frames to the server while this many bytes are on the wire waiting for their ack
   * (or, without acks, for the kernel to take them); with acks also at 128 frames. A frame always goes when nothing is
   * in flight. A small window keeps the server's queue short: acks come back soon, a reset re-sends little, and the
   * frames still in the sink's buffer go to whichever server frees room first. Raise it for a high-latency link
   * (throughput per connection is at most this window per round trip). Default: twice `batch.maxBytes`, at least
   * `2097152` (2 MiB).
   */
  maxInFlightBytes?: number;
  /**
   * At the limit: `"block"` (default) — the Writable side waits for room and `emit()` returns false from half the
   * limit on (events emitted past the limit anyway are dropped and counted: memory stays bounded);
   * `"dropOldest"` — the oldest frames not yet sent are dropped; `"dropNewest"` — the new event is dropped.
   * Every drop is counted in `stats().dropped` and reported by a `drop` event.
   */
  overflow?: OverflowPolicy;
  /**
   * How long `end()` (and so `pipeline(source, sink)`) and `close()` without a `timeoutMs` wait for what is
   * buffered to be delivered; what is left then is given up and counted as dropped (`undelivered`), so neither
   * waits for ever while every server is down. Default `10000` ms.
   */
  closeTimeoutMs?: number;
  /**
   * How server names are resolved. A host name stands for every address it resolves to, each balanced as a server
   * of its own: `refreshMs` (default `30000`, at least `1000`) is how often names are resolved again (sooner when
   * the records' TTL is shorter, with `servers`); `servers` queries those DNS servers (`"10.0.0.2:53"`) instead of
   * the system's resolver (getaddrinfo: /etc/hosts and search domains apply, no TTL); `timeoutMs` (default `5000`)
   * bounds one query to them.
   */
  dns?: { refreshMs?: number; servers?: string[]; timeoutMs?: number };
  /**
   * Opt-in: a connection older than this (0–10 % less, at random, so a fleet does not reconnect in step) takes no
   * more frames, closes once its acks are in, and a new one is opened: behind a load balancer or a ClusterIP the
   * sinks spread over replicas that were added. At least `1000`. Default: connections live until they fail.
   */
  maxConnectionAgeMs?: number;
  /**
   * Acks off, TCP and TLS servers: every `intervalMs` (default `1000`) a message with no event asks the server for
   * an ack; one not answered within `timeoutMs` (default `10000`) fails the connection with
   * `FORWARD_HEARTBEAT_TIMEOUT`, and its frames go to the other servers: a frozen or cut-off server is noticed even
   * though nothing else answers. The first answer also confirms at once that the server wants no handshake
   * (`handshakeGraceMs`). Fluentd and Fluent Bit answer it and store nothing; `false` for a server that does not
   * acknowledge. With acks the ack deadline does this work.
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number } | false;
  /**
   * A directory: when set, every frame is also written to append-only files there (created if missing), and a new
   * sink on the same directory sends what a killed process left unsettled (see docs/reliability.md). One sink per
   * directory: a second one is refused (`FORWARD_BUFFER_LOCKED`). Default: none (memory only).
   */
  bufferPath?: string;
  /**
   * With `bufferPath`: `"frame"` (default) — a frame is written to the file when its batch seals (the open batches,
   * at most `batch.maxDelayMs` old, are not); `"event"` — every `send()` writes its event to the file before it
   * returns.
   */
  durability?: Durability;
  /**
   * With `bufferPath`: `fdatasync` the file after every write, so that an OS crash or a power cut loses nothing
   * written (without it, a process kill loses nothing written; an OS crash may). Default `false`.
   */
  fsync?: boolean;
  /**
   * With `bufferPath`: bytes of unsettled frames the files may hold; at the limit the `overflow` policy applies
   * (memory then holds at most `bufferLimitBytes` of them; the rest are read back when sent). Default `1073741824`
   * (1 GiB).
   */
  diskLimitBytes?: number;
  /**
   * For tests and simulations: the clock behind every timer and every reading of time on the send path (batch
   * delay, `end()`/`close()` deadlines, connect/handshake/ack/heartbeat deadlines, backoff, probes, DNS refresh,
   * connection age, disk-retry). A test clock whose time the test advances makes fault tests exact, with no
   * sleeping. Event times are not read from it (an event is stamped with `Date.now()`). Default: the system clock
   * (`performance.now()`, the global timers, `Math.random`).
   */
  clock?: Clock;
}

/** When an accepted event is on disk (with `bufferPath`): when its batch seals, or before `send()` returns. */
export type Durability = "frame" | "event";

/** The disk buffer's options, resolved. */
export interface ResolvedDiskOptions {
  path: string;
  durability: Durability;
  fsync: boolean;
  limitBytes: number;
}

/** A server with every option resolved. */
export interface ResolvedServer {
  host: string;
  srv: string | undefined;
  port: number;
  path: string | undefined;
  tls: tls.ConnectionOptions | (() => tls.ConnectionOptions) | undefined;
  weight: number;
  standby: boolean;
  sharedKey: string | undefined;
  username: string | undefined;
  password: string | undefined;
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  servers: ResolvedServer[];
  mode: ForwardMode;
  compressionLevel: number;
  eventTime: boolean;
  requireAck: boolean;
  ackTimeoutMs: number;
  selfHostname: string;
  connectTimeoutMs: number;
  handshakeGraceMs: number;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  batch: { maxEvents: number; maxBytes: number; maxDelayMs: number };
  bufferLimitBytes: number;
  maxInFlightBytes: number;
  overflow: OverflowPolicy;
  /** The disk buffer, when `bufferPath` is set. */
  disk: ResolvedDiskOptions | undefined;
  closeTimeoutMs: number;
  dns: { refreshMs: number; servers: string[] | undefined; timeoutMs: number };
  maxConnectionAgeMs: number | undefined;
  heartbeat: { intervalMs: number; timeoutMs: number } | undefined;
  /** Every timer and reading of time on the send path. */
  clock: Clock;
  /** The sink-level credentials, the defaults of every server (`setServers` too). */
  credentials: Partial<Pick<ResolvedServer, "sharedKey" | "username" | "password">>;
}

const SINK_KEYS = [
  "host",
  "port",
  "path",
  "tls",
  "servers",
  "mode",
  "compressionLevel",
  "eventTime",
  "requireAck",
  "ackTimeoutMs",
  "sharedKey",
  "selfHostname",
  "username",
  "password",
  "connectTimeoutMs",
  "handshakeGraceMs",
  "reconnect",
  "batch",
  "bufferLimitBytes",
  "overflow",
  "maxInFlightBytes",
  "bufferPath",
  "durability",
  "fsync",
  "diskLimitBytes",
  "closeTimeoutMs",
  "dns",
  "maxConnectionAgeMs",
  "heartbeat",
  "clock",
] as const;
const SERVER_KEYS = [
  "host",
  "port",
  "path",
  "srv",
  "tls",
  "weight",
  "standby",
  "sharedKey",
  "username",
  "password",
];
const MODES: ForwardMode[] = ["PackedForward", "Message", "Forward", "CompressedPackedForward"];
const OVERFLOWS: OverflowPolicy[] = ["block", "dropOldest", "dropNewest"];
const DURABILITIES: Durability[] = ["frame", "event"];
const DAY_MS = 86_400_000;

function tlsOption(name: string, value: unknown): ResolvedServer["tls"] {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value === "function") return value as () => tls.ConnectionOptions;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(
      name,
      `expected true, an object of Node TLS options, or tlsFiles({ caFile, certFile, keyFile }), got ${describe(value)}`,
    );
  }
  return value as tls.ConnectionOptions;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === "" && (name.endsWith("password") || name.endsWith("sharedKey"))) return "";
  return stringOption(name, value, undefined);
}

function server(where: string, raw: object, defaults: Partial<ResolvedServer>): ResolvedServer {
  const o = raw as Record<string, unknown>;
  const path = stringOption(`${where}path`, o.path, undefined);
  const srv = stringOption(`${where}srv`, o.srv, undefined);
  if (srv !== undefined) {
    for (const key of ["host", "port", "path", "weight", "standby"]) {
      if (o[key] !== undefined) {
        throw new InvalidOptionError(
          `${where}${key}`,
          `cannot be combined with "srv": the SRV records give the servers, their ports, priorities and weights`,
        );
      }
    }
  }
  return {
    srv,
    host: stringOption(`${where}host`, o.host, "127.0.0.1"),
    port: integerOption(`${where}port`, o.port, 24224, 1, 65535),
    path,
    tls: tlsOption(`${where}tls`, o.tls),
    weight: integerOption(`${where}weight`, o.weight, 60, 1, 1_000_000),
    standby: booleanOption(`${where}standby`, o.standby, false),
    sharedKey: optionalString(`${where}sharedKey`, o.sharedKey) ?? defaults.sharedKey,
    username: optionalString(`${where}username`, o.username) ?? defaults.username,
    password: optionalString(`${where}password`, o.password) ?? defaults.password,
  };
}

/** Validates `new ForwardSink(options)` once; throws InvalidOptionError naming the option. */
export function resolveOptions(options: unknown = {}): ResolvedOptions {
  assertObject("options", options);
  rejectUnknownKeys("", options, SINK_KEYS);
  const o = options as Record<string, unknown>;
  const credentials = {
    sharedKey: optionalString("sharedKey", o.sharedKey),
    username: optionalString("username", o.username),
    password: optionalString("password", o.password),
  };
  let servers: ResolvedServer[];
  if (o.servers !== undefined) {
    for (const key of ["host", "port", "path", "tls"]) {
      if (o[key] !== undefined) {
        throw new InvalidOptionError(key, `cannot be combined with "servers"; set it on each server instead`);
      }
    }
    servers = resolveServers(o.servers, credentials);
  } else {
    servers = [server("", { host: o.host, port: o.port, path: o.path, tls: o.tls }, credentials)];
  }

  const dns = nestedOptions("dns", o.dns, ["refreshMs", "servers", "timeoutMs"]);
  let dnsServers: string[] | undefined;
  if (dns.servers !== undefined) {
    if (!Array.isArray(dns.servers) || dns.servers.length === 0 || !dns.servers.every(isDnsServer)) {
      throw new InvalidOptionError(
        "dns.servers",
        `expected a non-empty array of DNS server addresses such as ["10.0.0.2", "10.0.0.2:5353", "[::1]:53"], got ${describe(dns.servers)}`,
      );
    }
    dnsServers = dns.servers as string[];
  }

  const reconnect = nestedOptions("reconnect", o.reconnect, ["minDelayMs", "maxDelayMs"]);
  const minDelayMs = integerOption("reconnect.minDelayMs", reconnect.minDelayMs, 500, 1, DAY_MS);
  const maxDelayMs = integerOption(
    "reconnect.maxDelayMs",
    reconnect.maxDelayMs,
    Math.max(30_000, minDelayMs),
    minDelayMs,
    DAY_MS,
  );

  const batch = nestedOptions("batch", o.batch, ["maxEvents", "maxBytes", "maxDelayMs"]);
  const bufferLimitBytes = integerOption("bufferLimitBytes", o.bufferLimitBytes, 64 * 1024 * 1024, 1024);
  const maxBytes = integerOption(
    "batch.maxBytes",
    batch.maxBytes,
    Math.min(1024 * 1024, bufferLimitBytes),
    1,
    bufferLimitBytes,
  );

  const mode = enumOption("mode", o.mode, "PackedForward", MODES);
  if (o.compressionLevel !== undefined && mode !== "CompressedPackedForward") {
    throw new InvalidOptionError(
      "compressionLevel",
      `applies to mode "CompressedPackedForward" only (mode is "${mode}"): set that mode, or leave compressionLevel out`,
    );
  }

  return {
    servers,
    credentials,
    mode,
    compressionLevel: integerOption("compressionLevel", o.compressionLevel, 1, 1, 9),
    eventTime: booleanOption("eventTime", o.eventTime, true),
    requireAck: booleanOption("requireAck", o.requireAck, false),
    ackTimeoutMs: integerOption("ackTimeoutMs", o.ackTimeoutMs, 30_000, 1, DAY_MS),
    selfHostname: stringOption("selfHostname", o.selfHostname, os.hostname()),
    connectTimeoutMs: integerOption("connectTimeoutMs", o.connectTimeoutMs, 5000, 1, DAY_MS),
    handshakeGraceMs: integerOption("handshakeGraceMs", o.handshakeGraceMs, 1000, 0, DAY_MS),
    reconnect: { minDelayMs, maxDelayMs },
    batch: {
      maxEvents: integerOption("batch.maxEvents", batch.maxEvents, 1000, 1, 1_000_000),
      maxBytes,
      maxDelayMs: integerOption("batch.maxDelayMs", batch.maxDelayMs, 100, 0, DAY_MS),
    },
    bufferLimitBytes,
    maxInFlightBytes: integerOption(
      "maxInFlightBytes",
      o.maxInFlightBytes,
      Math.max(2 * 1024 * 1024, 2 * maxBytes),
      1,
    ),
    overflow: enumOption("overflow", o.overflow, "block", OVERFLOWS),
    closeTimeoutMs: integerOption("closeTimeoutMs", o.closeTimeoutMs, 10_000, 0),
    dns: {
      refreshMs: integerOption("dns.refreshMs", dns.refreshMs, 30_000, 1000, DAY_MS),
      servers: dnsServers,
      timeoutMs: integerOption("dns.timeoutMs", dns.timeoutMs, 5000, 1, 60_000),
    },
    heartbeat: heartbeatOption(o.heartbeat),
    maxConnectionAgeMs:
      o.maxConnectionAgeMs === undefined
        ? undefined
        : integerOption("maxConnectionAgeMs", o.maxConnectionAgeMs, 0, 1000, DAY_MS),
    disk: diskOptions(o),
    clock: clockOption(o.clock),
  };
}

function clockOption(value: unknown): Clock {
  if (value === undefined) return systemClock;
  if (!isClock(value)) {
    throw new InvalidOptionError(
      "clock",
      `expected a Clock, an object with now(), setTimeout(fn, ms), clearTimeout(timer) and random(), got ${describe(value)}`,
    );
  }
  return value;
}

/** `bufferPath` and the options that need it (naming `bufferPath` when they come without it). */
function diskOptions(o: Record<string, unknown>): ResolvedDiskOptions | undefined {
  const path = stringOption("bufferPath", o.bufferPath, undefined);
  if (path === undefined) {
    for (const key of ["durability", "fsync", "diskLimitBytes"]) {
      if (o[key] !== undefined) {
        throw new InvalidOptionError(
          key,
          `applies to a disk buffer only: set bufferPath too, or leave ${key} out`,
        );
      }
    }
    return undefined;
  }
  return {
    path,
    durability: enumOption("durability", o.durability, "frame", DURABILITIES),
    fsync: booleanOption("fsync", o.fsync, false),
    limitBytes: integerOption("diskLimitBytes", o.diskLimitBytes, 1024 * 1024 * 1024, 1024),
  };
}

/**
 * `close()`'s deadline in ms (default: the sink's `closeTimeoutMs`); throws INVALID_OPTION for a `timeoutMs` that is
 * not an integer >= 0.
 */
export function closeTimeoutMs(options: { timeoutMs?: number }, fallback: number): number {
  assertObject("options", options);
  rejectUnknownKeys("", options, ["timeoutMs"]);
  return integerOption("timeoutMs", options.timeoutMs, fallback, 0);
}

/**
 * Validates a list of servers as `servers` takes them (for the constructor and `setServers`); `credentials` are the
 * sink-level defaults. Throws InvalidOptionError naming the server and the option.
 */
export function resolveServers(
  list: unknown,
  credentials: Partial<Pick<ResolvedServer, "sharedKey" | "username" | "password">>,
): ResolvedServer[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionError("servers", `expected a non-empty array of servers, got ${describe(list)}`);
  }
  const servers = list.map((s: unknown, i: number) => {
    assertObject(`servers[${i}]`, s);
    rejectUnknownKeys(`servers[${i}]`, s, SERVER_KEYS);
    return server(`servers[${i}].`, s, credentials);
  });
  if (servers.every((s) => s.standby)) {
    throw new InvalidOptionError("servers", "at least one server must not be a standby");
  }
  return servers;
}

/** `10.0.0.2`, `10.0.0.2:5353`, `::1`, `[::1]:53`: what `dns.Resolver#setServers` takes. */
function isDnsServer(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed) return isIP(bracketed[1]!) === 6 && validPort(bracketed[2]);
  if (isIP(value) !== 0) return true;
  const [host, port, ...rest] = value.split(":");
  return rest.length === 0 && isIP(host!) === 4 && validPort(port);
}

function validPort(port: string | undefined): boolean {
  return port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
}

function heartbeatOption(value: unknown): ResolvedOptions["heartbeat"] {
  if (value === false) return undefined;
  const o = nestedOptions("heartbeat", value, ["intervalMs", "timeoutMs"]);
  const intervalMs = integerOption("heartbeat.intervalMs", o.intervalMs, 1000, 100, DAY_MS);
  const timeoutMs = integerOption(
    "heartbeat.timeoutMs",
    o.timeoutMs,
    Math.max(10_000, intervalMs),
    intervalMs,
    DAY_MS,
  );
  return { intervalMs, timeoutMs };
}
