import {
  tlsFiles,
  type ForwardSinkOptions,
  type InvalidOptionError,
  type StatsTags,
  type UwsgiStatsSourceOptions,
} from "../../index.js";
import { CliUsageError } from "../errors.js";
import type { LogFormat, LogLevel } from "../log.js";
import { parseFlags } from "./argv.js";
import { readEnv } from "./env.js";
import { readConfigFile } from "./file.js";
import { quote } from "./quote.js";
import { parseForwardAddress, type ForwardAddress } from "./forward-address.js";
import { parseListenAddress, type ListenAddress } from "./listen-address.js";
import { SETTINGS, type RawSettings } from "./settings.js";
import { Values } from "./values.js";

/** Options for UwsgiStatsSource that the sidecar sets (the rest keep the source's defaults). */
export interface SidecarSourceOptions {
  targets: string[];
  intervalMs: number;
  shapes: NonNullable<UwsgiStatsSourceOptions["shapes"]>;
  tags: Record<keyof StatsTags, string>;
  timeoutMs?: number;
  maxBytes?: number;
  escapeKeys: boolean;
  vars: NonNullable<UwsgiStatsSourceOptions["vars"]>;
  hostName?: string;
  fields?: Record<string, string>;
}

/** Options for ForwardSink that the sidecar sets (the rest keep the sink's defaults). */
export interface SidecarSinkOptions {
  servers: (ForwardAddress & { srv?: string; tls?: SidecarTlsOptions })[];
  requireAck: boolean;
  sharedKey?: string;
  selfHostname?: string;
  username?: string;
  password?: string;
  bufferLimitBytes: number;
  overflow: NonNullable<ForwardSinkOptions["overflow"]>;
  dns?: ForwardSinkOptions["dns"];
  maxConnectionAgeMs?: number;
  heartbeat?: ForwardSinkOptions["heartbeat"];
  bufferPath?: string;
  durability?: NonNullable<ForwardSinkOptions["durability"]>;
  fsync?: boolean;
  diskLimitBytes?: number;
}

/**
 * The PEM files of --tls-ca, --tls-cert, --tls-key (checked at load): the sink reads them again for each new
 * connection when they changed (`tlsFiles`), so renewed certificates need no signal.
 */
export interface SidecarTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Everything the sidecar runs with, merged (flags over environment over file), its syntax checked. */
export interface SidecarConfig {
  source: SidecarSourceOptions;
  sink: SidecarSinkOptions;
  tagPrefix: string;
  healthTag: string;
  healthIntervalMs: number;
  shutdownTimeoutMs: number;
  stdout: boolean;
  once: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** `--http`: where /healthz, /readyz and /metrics are served; undefined when off. */
  http: ListenAddress | undefined;
  configFile: string | undefined;
  /** Where each library option came from, to report the library's own validation errors under it. */
  origins: SettingOrigins;
}

/** The result of reading the command line, the environment and the config file. */
export type LoadResult =
  { kind: "help" } | { kind: "version" } | { kind: "run"; config: SidecarConfig; warnings: string[] };

/**
 * Reads flags, the environment and the config file they name, merges them (flags override env,
 * env overrides file, lists are replaced whole) and checks their syntax. Throws CliUsageError with one line.
 * Ranges and allowed values are checked once, by UwsgiStatsSource and ForwardSink: see SettingOrigins.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): LoadResult {
  const flags = parseFlags(argv);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const fromEnv = readEnv(env);
  const config = flags.settings.get("config") ?? fromEnv.settings.get("config");
  const configFile = config?.value;
  const label = config?.where === "--config" ? "--config" : `${config?.where} (--config)`;
  const fromFile: RawSettings =
    typeof configFile === "string" ? readConfigFile(configFile, label) : new Map();
  const merged: RawSettings = new Map();
  for (const setting of SETTINGS) {
    const raw =
      flags.settings.get(setting.key) ?? fromEnv.settings.get(setting.key) ?? fromFile.get(setting.key);
    if (raw) merged.set(setting.key, raw);
  }
  const warnings = [...fromEnv.warnings];
  if (flags.settings.get("shared-key")) {
    warnings.push(
      "--shared-key on the command line is visible to every user (ps); prefer UWSGI_FORWARD_SHARED_KEY or --shared-key-file",
    );
  }
  return {
    kind: "run",
    config: buildConfig(merged, typeof configFile === "string" ? configFile : undefined),
    warnings,
  };
}

/** Turns merged raw settings into a SidecarConfig (text to numbers, lists, files). */
export function buildConfig(raw: RawSettings, configFile: string | undefined): SidecarConfig {
  const values = new Values(raw);
  const tagPrefix = values.string("tag-prefix") ?? "uwsgi";
  const source: SidecarSourceOptions = {
    targets: values.list("stats") ?? ["/tmp/stat.sock"],
    intervalMs: values.duration("interval") ?? 1000,
    // Checked by UwsgiStatsSource (and reported under --shape by SettingOrigins), as every library value is.
    shapes: (values.commaList("shape") ?? ["raw"]) as SidecarSourceOptions["shapes"],
    tags: {
      raw: `${tagPrefix}.stats`,
      summary: `${tagPrefix}.summary`,
      worker: `${tagPrefix}.worker`,
      flat: `${tagPrefix}.flat`,
      socket: `${tagPrefix}.socket`,
      app: `${tagPrefix}.app`,
      core: `${tagPrefix}.core`,
      cache: `${tagPrefix}.cache`,
      spooler: `${tagPrefix}.spooler`,
      metric: `${tagPrefix}.metric`,
      emperor: `${tagPrefix}.emperor`,
      error: `${tagPrefix}.error`,
    },
    escapeKeys: values.boolean("escape-keys") ?? false,
    vars: (values.string("vars") ?? "redact") as SidecarSourceOptions["vars"],
  };
  const timeoutMs = values.duration("timeout");
  if (timeoutMs !== undefined) source.timeoutMs = timeoutMs;
  const maxBytes = values.size("max-bytes");
  if (maxBytes !== undefined) source.maxBytes = maxBytes;
  const hostName = values.string("host-name");
  if (hostName !== undefined) source.hostName = hostName;
  const fieldTexts = values.list("field");
  if (fieldTexts !== undefined) {
    const fields: Record<string, string> = {};
    for (const text of fieldTexts) {
      const eq = text.indexOf("=");
      if (eq <= 0) values.fail("field", "KEY=VALUE, such as env=prod", text);
      fields[text.slice(0, eq)] = text.slice(eq + 1);
    }
    source.fields = fields;
  }

  const servers: SidecarSinkOptions["servers"] = [];
  const serverOrigins: ServerOrigin[] = [];
  for (const key of ["forward", "forward-unix"] as const) {
    for (const text of values.list(key) ?? []) {
      servers.push(parseForwardAddress(text, values.where(key), key === "forward-unix"));
      serverOrigins.push({ key, text });
    }
  }
  for (const text of values.list("forward-srv") ?? []) {
    servers.push({ srv: text });
    serverOrigins.push({ key: "forward-srv", text });
  }
  if (servers.length === 0) {
    servers.push({ host: "127.0.0.1", port: 24224 });
    serverOrigins.push({ key: "forward", text: "127.0.0.1:24224" });
  }
  const tls = readTls(values);
  if (tls) for (const server of servers) server.tls = tls;

  const sink: SidecarSinkOptions = {
    servers,
    requireAck: values.boolean("require-ack") ?? false,
    bufferLimitBytes: values.size("buffer-limit") ?? 64 * 1024 * 1024,
    overflow: (values.string("overflow") ?? "dropOldest") as SidecarSinkOptions["overflow"],
  };
  const dnsServers = values.list("dns-server");
  const dnsRefresh = values.duration("dns-refresh");
  if (dnsServers !== undefined || dnsRefresh !== undefined) {
    sink.dns = {
      ...(dnsServers !== undefined ? { servers: dnsServers } : {}),
      ...(dnsRefresh !== undefined ? { refreshMs: dnsRefresh } : {}),
    };
  }
  const maxAge = values.duration("max-connection-age");
  if (maxAge !== undefined) sink.maxConnectionAgeMs = maxAge;
  const heartbeatTimeout = values.duration("heartbeat-timeout");
  if (heartbeatTimeout !== undefined) {
    sink.heartbeat = heartbeatTimeout === 0 ? false : { timeoutMs: heartbeatTimeout };
  }
  const bufferPath = values.string("buffer-path");
  if (bufferPath !== undefined) {
    sink.bufferPath = bufferPath;
    sink.durability = (values.string("durability") ?? "frame") as SidecarSinkOptions["durability"];
    sink.fsync = values.boolean("fsync") ?? false;
    sink.diskLimitBytes = values.size("disk-limit") ?? 1024 * 1024 * 1024;
  } else {
    for (const key of ["durability", "fsync", "disk-limit"] as const) {
      if (raw.has(key)) values.fail(key, "--buffer-path too (it applies to a disk buffer only)");
    }
  }
  const sharedKey = secret(values, "shared-key", "shared-key-file");
  if (sharedKey !== undefined) sink.sharedKey = sharedKey;
  const selfHostname = values.string("self-hostname");
  if (selfHostname !== undefined) sink.selfHostname = selfHostname;
  const username = values.string("username");
  const password = secret(values, "password", "password-file");
  if (username !== undefined && password === undefined) {
    values.fail(
      "username",
      "a user name together with a password (UWSGI_FORWARD_PASSWORD or --password-file)",
    );
  }
  if (password !== undefined && username === undefined) {
    values.fail(raw.has("password") ? "password" : "password-file", "a password together with --username");
  }
  if (username !== undefined) sink.username = username;
  if (password !== undefined) sink.password = password;

  const httpText = values.string("http");
  return {
    source,
    sink,
    tagPrefix,
    healthTag: `${tagPrefix}.health`,
    healthIntervalMs: values.duration("health-interval") ?? 60_000,
    shutdownTimeoutMs: values.duration("shutdown-timeout") ?? 10_000,
    stdout: values.boolean("stdout") ?? false,
    once: values.boolean("once") ?? false,
    logLevel: (values.enumValue("log-level") as LogLevel | undefined) ?? "info",
    logFormat: (values.enumValue("log-format") as LogFormat | undefined) ?? "text",
    http: httpText === undefined ? undefined : parseListenAddress(httpText, values.label("http")),
    configFile,
    origins: new SettingOrigins(values, serverOrigins, raw),
  };
}

/** Which setting, and which of its values, one entry of ForwardSink's `servers` came from. */
interface ServerOrigin {
  readonly key: "forward" | "forward-unix" | "forward-srv";
  readonly text: string;
}

/** The setting each top-level UwsgiStatsSource option is made from. */
const SOURCE_ORIGINS: Record<string, string> = {
  targets: "stats",
  intervalMs: "interval",
  timeoutMs: "timeout",
  connectTimeoutMs: "timeout",
  shapes: "shape",
  tags: "tag-prefix",
  maxBytes: "max-bytes",
  escapeKeys: "escape-keys",
  vars: "vars",
  hostName: "host-name",
  fields: "field",
};

/** The setting(s) each top-level ForwardSink option is made from (the first one given wins). */
const SINK_ORIGINS: Record<string, string[]> = {
  requireAck: ["require-ack"],
  sharedKey: ["shared-key", "shared-key-file"],
  selfHostname: ["self-hostname"],
  username: ["username"],
  password: ["password", "password-file"],
  bufferLimitBytes: ["buffer-limit"],
  overflow: ["overflow"],
  dns: ["dns-server", "dns-refresh"],
  maxConnectionAgeMs: ["max-connection-age"],
  heartbeat: ["heartbeat-timeout"],
  bufferPath: ["buffer-path"],
  durability: ["durability"],
  fsync: ["fsync"],
  diskLimitBytes: ["disk-limit"],
};

/**
 * Maps an option of UwsgiStatsSource or ForwardSink back to the setting it came from, so that the library's
 * validation (the only one of ranges and allowed values) is reported under the flag, environment variable or
 * config key the user wrote: `--interval (intervalMs): expected an integer from 10 to 86400000, got 5`.
 */
export class SettingOrigins {
  constructor(
    private readonly values: Values,
    private readonly servers: readonly ServerOrigin[],
    private readonly raw: RawSettings,
  ) {}

  /**
   * The setting an option path (`intervalMs`, `servers[2].weight`, `fields.my-env`) comes from, and the value
   * given for it (for a server, that server's own text).
   */
  settingOf(side: "source" | "sink", option: string): { key: string; given: unknown } | undefined {
    const head = option.split(/[.[]/, 1)[0] as string;
    let key: string | undefined;
    if (side === "source") key = SOURCE_ORIGINS[head];
    else if (head === "servers" && option.includes(".tls")) {
      key = ["tls-ca", "tls-cert", "tls-key", "tls"].find((k) => this.raw.has(k)) ?? "tls";
    } else if (head === "servers") {
      const server = this.servers[Number(option.slice("servers[".length, option.indexOf("]")))];
      return server && { key: server.key, given: server.text };
    } else {
      const keys = SINK_ORIGINS[head];
      key = keys?.find((k) => this.raw.has(k)) ?? keys?.[0];
    }
    return key === undefined ? undefined : { key, given: this.raw.get(key)?.value };
  }

  /** A library validation error as the CliUsageError of the setting it came from. */
  usageError(side: "source" | "sink", err: InvalidOptionError): CliUsageError {
    const origin = this.settingOf(side, err.option);
    if (origin === undefined) return new CliUsageError(err.message);
    const { key, given } = origin;
    const shown =
      given === undefined || key.includes("password") || key.includes("shared-key")
        ? ""
        : ` (given ${quote(given)})`;
    // The library's message quotes the value whole: cut a long one as every other message does.
    let message = err.message;
    for (const text of [given].flat()) {
      if (typeof text === "string") message = message.split(JSON.stringify(text)).join(quote(text));
    }
    return new CliUsageError(`${this.values.label(key)}: ${message}${shown}`);
  }
}

function readTls(values: Values): SidecarTlsOptions | undefined {
  const enabled = values.boolean("tls");
  const tls: SidecarTlsOptions = {};
  const keys = [
    ["tls-ca", "caFile"],
    ["tls-cert", "certFile"],
    ["tls-key", "keyFile"],
  ] as const;
  for (const [key, field] of keys) {
    const path = values.string(key);
    if (path === undefined) continue;
    values.readFile(key, path);
    tls[field] = path;
  }
  if (tls.certFile !== undefined && tls.keyFile === undefined)
    values.fail("tls-cert", "a PEM file given together with --tls-key");
  if (tls.keyFile !== undefined && tls.certFile === undefined)
    values.fail("tls-key", "a PEM file given together with --tls-cert");
  const any = Object.keys(tls).length > 0;
  if (enabled === false && any) values.fail("tls", "true when --tls-ca, --tls-cert or --tls-key is given");
  if (any) {
    try {
      tlsFiles(tls);
    } catch (err) {
      const key = tls.caFile !== undefined && tls.certFile === undefined ? "tls-ca" : "tls-cert";
      values.fail(key, `PEM files that work together: ${(err as Error).message}`);
    }
  }
  return enabled || any ? tls : undefined;
}

function secret(values: Values, key: string, fileKey: string): string | undefined {
  const direct = values.string(key);
  const path = values.string(fileKey);
  if (direct !== undefined && path !== undefined) {
    values.fail(fileKey, `a file, or ${values.where(key)}, but not both`);
  }
  if (path === undefined) return direct;
  const text = values.readFile(fileKey, path).replace(/\r?\n$/, "");
  if (text === "") values.fail(fileKey, "a file that is not empty");
  return text;
}
