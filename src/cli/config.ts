import { readConfigFile } from "./config-file.js";
import { readEnv } from "./env.js";
import { parseFlags } from "./flags.js";
import { parseForwardAddress, type ForwardAddress } from "./forward-address.js";
import type { LogLevel } from "./logger.js";
import { OVERFLOWS, SETTINGS, SHAPES, VARS, type RawSettings } from "./settings.js";
import { Values } from "./values.js";

/** Options for UwsgiStatsSource that the sidecar sets (the rest keep the source's defaults). */
export interface SidecarSourceOptions {
  targets: string[];
  intervalMs: number;
  shapes: (typeof SHAPES)[number][];
  tags: Record<"raw" | "summary" | "worker" | "flat" | "emperor" | "error", string>;
  timeoutMs?: number;
  maxBytes?: number;
  escapeKeys: boolean;
  vars: (typeof VARS)[number];
  hostName?: string;
  fields?: Record<string, string>;
}

/** Options for ForwardSink that the sidecar sets (the rest keep the sink's defaults). */
export interface SidecarSinkOptions {
  servers: (ForwardAddress & { tls?: SidecarTlsOptions })[];
  requireAck: boolean;
  sharedKey?: string;
  selfHostname?: string;
  username?: string;
  password?: string;
  bufferLimitBytes: number;
  overflow: (typeof OVERFLOWS)[number];
}

/** TLS client options read from --tls-ca, --tls-cert, --tls-key. */
export interface SidecarTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Everything the sidecar runs with, merged (flags over environment over file) and validated. */
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
  configFile: string | undefined;
}

/** The result of reading the command line, the environment and the config file. */
export type LoadResult =
  { kind: "help" } | { kind: "version" } | { kind: "run"; config: SidecarConfig; warnings: string[] };

/**
 * Reads flags, the environment and the config file they name, merges them (flags override env,
 * env overrides file, lists are replaced whole) and validates. Throws CliUsageError with one line.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): LoadResult {
  const flags = parseFlags(argv);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const fromEnv = readEnv(env);
  const configFile = (flags.settings.get("config") ?? fromEnv.get("config"))?.value;
  const fromFile: RawSettings = typeof configFile === "string" ? readConfigFile(configFile) : new Map();
  const merged: RawSettings = new Map();
  for (const setting of SETTINGS) {
    const raw = flags.settings.get(setting.key) ?? fromEnv.get(setting.key) ?? fromFile.get(setting.key);
    if (raw) merged.set(setting.key, raw);
  }
  const warnings: string[] = [];
  const shared = flags.settings.get("shared-key");
  if (shared) {
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

/** Validates merged raw settings into a SidecarConfig. */
export function buildConfig(raw: RawSettings, configFile: string | undefined): SidecarConfig {
  const values = new Values(raw);
  const tagPrefix = values.string("tag-prefix") ?? "uwsgi";
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(tagPrefix)) {
    values.fail("tag-prefix", "dot-separated words of letters, digits, _ and - (e.g. uwsgi or app.uwsgi)");
  }
  const intervalMs = values.duration("interval") ?? 1000;
  if (intervalMs < 10) values.fail("interval", "a duration of at least 10ms, such as 500ms, 1s or 1m");
  const timeoutMs = values.duration("timeout");
  if (timeoutMs === 0) values.fail("timeout", "a duration above 0, such as 500ms or 2s");
  const source: SidecarSourceOptions = {
    targets: values.list("stats") ?? ["/tmp/stat.sock"],
    intervalMs,
    shapes: (values.enumList("shape") as SidecarSourceOptions["shapes"] | undefined) ?? ["raw"],
    tags: {
      raw: `${tagPrefix}.stats`,
      summary: `${tagPrefix}.summary`,
      worker: `${tagPrefix}.worker`,
      flat: `${tagPrefix}.flat`,
      emperor: `${tagPrefix}.emperor`,
      error: `${tagPrefix}.error`,
    },
    escapeKeys: values.boolean("escape-keys") ?? false,
    vars: (values.enumValue("vars") as SidecarSourceOptions["vars"] | undefined) ?? "redact",
  };
  if (timeoutMs !== undefined) source.timeoutMs = timeoutMs;
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
  const maxBytes = values.size("max-bytes");
  if (maxBytes !== undefined && maxBytes < 64)
    values.fail("max-bytes", "a size of at least 64 bytes, such as 8MiB");
  if (maxBytes !== undefined) source.maxBytes = maxBytes;
  for (const target of source.targets) {
    if (target.trim() === "") values.fail("stats", "a non-empty stats address");
  }

  const servers: SidecarSinkOptions["servers"] = [];
  for (const text of values.list("forward") ?? []) {
    servers.push(parseForwardAddress(text, values.where("forward"), false));
  }
  for (const text of values.list("forward-unix") ?? []) {
    servers.push(parseForwardAddress(text, values.where("forward-unix"), true));
  }
  if (servers.length === 0) servers.push({ host: "127.0.0.1", port: 24224 });
  const tls = readTls(values);
  if (tls) for (const server of servers) server.tls = tls;

  const sink: SidecarSinkOptions = {
    servers,
    requireAck: values.boolean("require-ack") ?? false,
    bufferLimitBytes: values.size("buffer-limit") ?? 64 * 1024 * 1024,
    overflow: (values.enumValue("overflow") as SidecarSinkOptions["overflow"] | undefined) ?? "dropOldest",
  };
  if (sink.bufferLimitBytes < 1024) values.fail("buffer-limit", "a size of at least 1KiB, such as 64MiB");
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
    configFile,
  };
}

function readTls(values: Values): SidecarTlsOptions | undefined {
  const enabled = values.boolean("tls");
  const tls: SidecarTlsOptions = {};
  for (const [key, field] of [
    ["tls-ca", "ca"],
    ["tls-cert", "cert"],
    ["tls-key", "key"],
  ] as const) {
    const path = values.string(key);
    if (path !== undefined) tls[field] = values.readFile(key, path);
  }
  if (tls.cert !== undefined && tls.key === undefined)
    values.fail("tls-cert", "a PEM file given together with --tls-key");
  if (tls.key !== undefined && tls.cert === undefined)
    values.fail("tls-key", "a PEM file given together with --tls-cert");
  const any = Object.keys(tls).length > 0;
  if (enabled === false && any) values.fail("tls", "true when --tls-ca, --tls-cert or --tls-key is given");
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
