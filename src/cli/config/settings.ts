import { STATS_SHAPES } from "../../index.js";
import { LOG_FORMATS, LOG_LEVELS } from "../log.js";
import { DURATION_SYNTAX } from "./durations.js";
import { SIZE_SYNTAX } from "./sizes.js";

/** How a setting's text is read. `list` settings are repeatable flags, YAML/JSON lists, space-separated env values. */
export type SettingKind = "string" | "list" | "boolean" | "duration" | "size" | "enum" | "enumList";

/** One setting of the sidecar: its flag, environment variable and config-file key, and what it accepts. */
export interface SettingSpec {
  /** Config-file key (the flag without `--`). */
  readonly key: string;
  /** Command-line flag, or undefined for a secret that must not be given on the command line. */
  readonly flag: string | undefined;
  /** Environment variable. */
  readonly env: string;
  readonly kind: SettingKind;
  /** Allowed values of `enum` and `enumList` settings. */
  readonly values?: readonly string[];
  /** Placeholder for the value in help text, e.g. `DURATION`. */
  readonly valueName: string;
  /** The default, as the user would write it, or a description of it. */
  readonly defaultText: string;
  /** One line for --help and docs/cli.md. */
  readonly help: string;
  /** False for settings that only make sense on the command line or in the environment (`config`). */
  readonly inFile: boolean;
}

/** Shapes the sidecar can ask UwsgiStatsSource for. */
export const SHAPES = STATS_SHAPES;
/** Overflow policies of ForwardSink's bounded buffer. */
export const OVERFLOWS = ["block", "dropOldest", "dropNewest"] as const;
/** When an accepted record is on disk, with --buffer-path. */
export const DURABILITIES = ["frame", "event"] as const;
/** What to do with `cores[].vars` (CGI variables of in-flight requests). */
export const VARS = ["redact", "keep", "drop"] as const;

function spec(
  key: string,
  kind: SettingKind,
  valueName: string,
  defaultText: string,
  help: string,
  extra: { values?: readonly string[]; flag?: false; inFile?: boolean } = {},
): SettingSpec {
  return {
    key,
    flag: extra.flag === false ? undefined : `--${key}`,
    env: `UWSGI_FORWARD_${key.toUpperCase().replace(/-/g, "_")}`,
    kind,
    valueName,
    defaultText,
    help,
    inFile: extra.inFile ?? true,
    ...(extra.values ? { values: extra.values } : {}),
  };
}

/** Every setting, in the order of --help and docs/cli.md. */
export const SETTINGS: readonly SettingSpec[] = [
  spec("config", "string", "FILE", "none", "read settings from a JSON or YAML file (re-read on SIGHUP)", {
    inFile: false,
  }),
  spec(
    "stats",
    "list",
    "ADDRESS",
    "/tmp/stat.sock",
    "uWSGI stats server to poll: /path.sock, unix:///path, host:port, tcp://host:port, http://host:port/path, or a glob (repeatable)",
  ),
  spec(
    "forward",
    "list",
    "HOST:PORT[,weight=N][,standby]",
    "127.0.0.1:24224",
    "Fluentd/td-agent/Fluent Bit forward input to send to (repeatable; several = balancing and failover)",
  ),
  spec(
    "forward-unix",
    "list",
    "PATH[,weight=N][,standby]",
    "none",
    "forward input on a unix socket (repeatable; used instead of the default --forward when given alone)",
  ),
  spec(
    "forward-srv",
    "list",
    "NAME",
    "none",
    "a DNS SRV name whose records are the servers: lowest priority first, weights share (repeatable)",
  ),
  spec(
    "dns-server",
    "list",
    "ADDR[:PORT]",
    "the system resolver",
    "resolve server names by asking this DNS server, with TTLs (repeatable)",
  ),
  spec(
    "dns-refresh",
    "duration",
    "DURATION",
    "30s",
    "resolve server names again this often (sooner at a shorter TTL): every address of a name is a server",
  ),
  spec(
    "max-connection-age",
    "duration",
    "DURATION",
    "off",
    "replace a connection this old, once its acks are in (spreads over replicas behind a load balancer)",
  ),
  spec(
    "heartbeat-timeout",
    "duration",
    "DURATION",
    "10s",
    "without --require-ack: a server that leaves a heartbeat unanswered this long takes no new frames (0 = off)",
  ),
  spec(
    "tag-prefix",
    "string",
    "PREFIX",
    "uwsgi",
    "tags are PREFIX.stats, PREFIX.summary, PREFIX.worker, PREFIX.flat, PREFIX.emperor, PREFIX.error, PREFIX.health",
  ),
  spec(
    "host-name",
    "string",
    "NAME",
    "the host name (os.hostname())",
    "the host field of every record, so that the records of many hosts stay apart downstream",
  ),
  spec(
    "field",
    "list",
    "KEY=VALUE",
    "none",
    "static label added to every record, e.g. env=prod (repeatable; KEY matches [A-Za-z_][A-Za-z0-9_]*)",
  ),
  spec("interval", "duration", "DURATION", "1s", "time between two polls of every target"),
  spec(
    "shape",
    "enumList",
    "SHAPE",
    "raw",
    "record shapes to send: raw, summary, worker, flat, socket, app, core, cache, spooler, metric (repeatable or comma-separated)",
    {
      values: SHAPES,
    },
  ),
  spec(
    "timeout",
    "duration",
    "DURATION",
    "90% of --interval, from 100ms to 5s",
    "connect-and-read timeout per target and poll",
  ),
  spec(
    "vars",
    "enum",
    "POLICY",
    "redact",
    "CGI variables of in-flight requests: redact secrets, keep all, or drop",
    {
      values: VARS,
    },
  ),
  spec(
    "escape-keys",
    "boolean",
    "",
    "false",
    "rewrite every key of raw records to [A-Za-z0-9_] (for Norikra and other strict stores)",
  ),
  spec(
    "max-bytes",
    "size",
    "SIZE",
    "8MiB",
    "largest stats answer read from one target; larger ones are cut off and reported",
  ),
  spec(
    "require-ack",
    "boolean",
    "",
    "false",
    "ask the server to acknowledge every frame; re-send what is not acknowledged",
  ),
  spec(
    "shared-key",
    "string",
    "KEY",
    "none",
    "shared key of the server's <security> section (prefer the env variable or --shared-key-file)",
  ),
  spec(
    "shared-key-file",
    "string",
    "FILE",
    "none",
    "read the shared key from FILE (trailing newline removed)",
  ),
  spec("self-hostname", "string", "NAME", "the host name", "self_hostname sent in the handshake"),
  spec("username", "string", "NAME", "none", "user name for the server's <user> authentication"),
  spec(
    "password",
    "string",
    "PASSWORD",
    "none",
    "password for --username (environment or config file only, never a flag)",
    {
      flag: false,
    },
  ),
  spec("password-file", "string", "FILE", "none", "read the password from FILE (trailing newline removed)"),
  spec("tls", "boolean", "", "false", "connect with TLS (implied by --tls-ca, --tls-cert, --tls-key)"),
  spec(
    "tls-ca",
    "string",
    "FILE",
    "the system CAs",
    "PEM file of the CA that signed the server's certificate",
  ),
  spec(
    "tls-cert",
    "string",
    "FILE",
    "none",
    "PEM client certificate, for servers that verify clients (mutual TLS)",
  ),
  spec("tls-key", "string", "FILE", "none", "PEM private key of --tls-cert"),
  spec(
    "buffer-limit",
    "size",
    "SIZE",
    "64MiB",
    "most bytes held for servers that are down or slow to acknowledge",
  ),
  spec(
    "overflow",
    "enum",
    "POLICY",
    "dropOldest",
    "when the buffer is full: dropOldest, dropNewest, or block (skip polls until there is room)",
    {
      values: OVERFLOWS,
    },
  ),
  spec(
    "buffer-path",
    "string",
    "DIR",
    "none (memory only)",
    "keep buffered records in files in DIR too, so that a restart (even after kill -9) sends what was not delivered; one sidecar per DIR",
  ),
  spec(
    "durability",
    "enum",
    "WHEN",
    "frame",
    "with --buffer-path, when a record is on disk: frame (when its batch is sealed) or event (before it is accepted)",
    { values: DURABILITIES },
  ),
  spec(
    "fsync",
    "boolean",
    "",
    "false",
    "with --buffer-path, fdatasync every write, so that an OS crash or power cut loses nothing written",
  ),
  spec(
    "disk-limit",
    "size",
    "SIZE",
    "1GiB",
    "with --buffer-path, most bytes of undelivered records on disk (then --overflow applies)",
  ),
  spec(
    "health-interval",
    "duration",
    "DURATION",
    "1m",
    "how often to send the sidecar's own health record (0 = never)",
  ),
  spec(
    "shutdown-timeout",
    "duration",
    "DURATION",
    "10s",
    "on SIGTERM/SIGINT, how long to wait for the last events to be delivered",
  ),
  spec(
    "http",
    "string",
    "HOST:PORT",
    "off",
    "serve /healthz, /readyz and /metrics (Prometheus) on this address, e.g. 127.0.0.1:9191 or 0.0.0.0:9191",
  ),
  spec("stdout", "boolean", "", "false", "print JSON lines of exactly what would be sent, and send nothing"),
  spec(
    "once",
    "boolean",
    "",
    "false",
    "poll every target once, deliver, and exit (with summary or worker: poll twice, one --interval apart, and deliver the second, so rates are present); exit 1 if a target failed or nothing matched",
  ),
  spec("log-level", "enum", "LEVEL", "info", "error, warn, info or debug (logs go to stderr)", {
    values: LOG_LEVELS,
  }),
  spec("log-format", "enum", "FORMAT", "text", "text (one plain line) or json (one JSON object per line)", {
    values: LOG_FORMATS,
  }),
];

/** Flags that are not settings: they print and exit. */
export const COMMAND_FLAGS = {
  help: { flag: "--help", short: "-h", help: "print this help and exit" },
  version: { flag: "--version", short: "-V", help: "print the version and exit" },
} as const;

/** What a setting accepts, in words, for one-line errors. */
export function accepts(setting: SettingSpec): string {
  switch (setting.kind) {
    case "duration":
      return DURATION_SYNTAX;
    case "size":
      return SIZE_SYNTAX;
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${setting.values?.join(", ")}`;
    case "enumList":
      return `one or more of ${setting.values?.join(", ")}`;
    case "list":
    case "string":
      return `a non-empty ${setting.valueName}`;
  }
}

/** A value as given, before validation: text (or a list of texts), or a boolean from a flag or a file. */
export type RawValue = string | string[] | boolean;

/** A value and where it was given (`--interval`, `UWSGI_FORWARD_INTERVAL`, `interval in /etc/uwsgi-forward.yaml`). */
export interface RawSetting {
  readonly value: RawValue;
  readonly where: string;
}

/** Settings from one layer (flags, environment or file), keyed by SettingSpec.key. */
export type RawSettings = Map<string, RawSetting>;
