import { hostname } from "node:os";
import { InvalidOptionError } from "../errors.js";
import { assertObject, describe } from "../options.js";
import { RECORD_SCHEMA } from "./shapes/schema.js";

/** A static label value: the same on every record, so its type never changes. */
export type LabelValue = string | number | boolean;

/** The fields a source adds to every record it produces: `host` first, then the static `fields`. */
export type RecordLabels = Readonly<Record<string, LabelValue>>;

/** What a label key must look like: a Norikra (and most stores') field name. */
export const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Field names the records of this package carry (every shape, error and health records, and the keys of a
 * uWSGI document that `raw` and `flat` copy): a static label of one of these names would hide it.
 */
const RESERVED = new Set([
  "host",
  "target",
  "repaired",
  "stale",
  "code",
  "message",
  "excerpt",
  "bytes",
  "reset",
  "interval_ms",
  "master_pid",
  "respawned",
  "response_time_us",
  "tag",
  "time",
  // uWSGI document keys (raw, flat, summary, emperor)
  "version",
  "listen_queue",
  "listen_queue_errors",
  "signal_queue",
  "load",
  "pid",
  "uid",
  "gid",
  "cwd",
  "locks",
  "caches",
  "sockets",
  "workers",
  "spoolers",
  "metrics",
  "crons",
  "daemons",
  "emperor",
  "emperor_tyrant",
  "throttle_level",
  "vassals",
  "blacklist",
  // worker keys
  "id",
  "accepting",
  "requests",
  "delta_requests",
  "exceptions",
  "harakiri_count",
  "signals",
  "status",
  "rss",
  "vsz",
  "running_time",
  "last_spawn",
  "respawn_count",
  "tx",
  "avg_rt",
  "apps",
  "cores",
  "cores_in_request",
  // summary and emperor fields
  "harakiri",
  "respawns",
  "avg_rt_max",
  "avg_rt_weighted",
  "spooler_tasks",
  "emperors",
  "blacklisted",
  // health record fields (the sidecar's)
  "uptime_s",
  "polls",
  "records",
  "target_errors",
  "targets",
  "targets_failing",
  "targets_matched",
  "emitted",
  "sent",
  "acked",
  "retried",
  "dropped",
  "buffered_bytes",
  "buffered_events",
  "servers_up",
  "servers",
]);

/** Every field a record shape declares (`name`, `mountpoint`, `hits`, …): a label must not hide one either. */
const DECLARED = new Set(
  Object.values(RECORD_SCHEMA).flatMap((schema) =>
    schema.fields.filter((f) => !f.name.includes("<i>")).map((f) => f.name),
  ),
);

/** Prefixes and suffixes of generated field names (`workers_busy`, `socket_0_queue`, `requests_per_sec`, flat paths). */
const RESERVED_PREFIXES = [
  "workers_",
  "socket_",
  "sockets_",
  "vassals_",
  "locks_",
  "caches_",
  "spoolers_",
  "metrics_",
  "crons_",
  "daemons_",
  "emperor_",
  "blacklist_",
  "cores_",
];
const RESERVED_SUFFIX = "_per_sec";

/** Why `key` cannot be a static label, or undefined when it can. */
export function labelKeyProblem(key: string): string | undefined {
  if (!LABEL_KEY.test(key)) {
    return "a label name must match [A-Za-z_][A-Za-z0-9_]* (a field name Norikra and other stores accept), e.g. env or role";
  }
  if (
    RESERVED.has(key) ||
    DECLARED.has(key) ||
    RESERVED_PREFIXES.some((p) => key.startsWith(p)) ||
    key.endsWith(RESERVED_SUFFIX)
  ) {
    return `"${key}" is a field the records already carry; pick another name (e.g. app_${key})`;
  }
  return undefined;
}

/**
 * Validates `hostName` (default `os.hostname()`) and `fields` into the labels every record gets:
 * `{ host, ...fields }`. Throws InvalidOptionError naming the offending option.
 */
export function resolveLabels(hostName: unknown, fields: unknown): RecordLabels {
  let host: string;
  if (hostName === undefined) host = hostname();
  else if (typeof hostName === "string" && hostName.trim() !== "" && hostName.length <= 255) host = hostName;
  else {
    throw new InvalidOptionError(
      "hostName",
      `expected a non-empty host name of at most 255 characters, got ${describe(hostName)} (e.g. hostName: "web-3")`,
    );
  }
  const labels: Record<string, LabelValue> = { host };
  if (fields === undefined) return Object.freeze(labels);
  assertObject("fields", fields);
  for (const [key, value] of Object.entries(fields)) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) throw new InvalidOptionError(`fields.${key}`, problem);
    if (
      typeof value !== "string" &&
      typeof value !== "boolean" &&
      !(typeof value === "number" && Number.isFinite(value))
    ) {
      throw new InvalidOptionError(
        `fields.${key}`,
        `expected a string, a finite number or a boolean, got ${describe(value)} (e.g. fields: { env: "prod" })`,
      );
    }
    labels[key] = value;
  }
  return Object.freeze(labels);
}

/**
 * The record with the labels added: `host` and the static fields come first, and win over a same-named
 * key of the record (only a document's own keys can collide; the built-in names are reserved).
 */
export function labelRecord(labels: RecordLabels, record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...labels, ...record };
  for (const key in labels) out[key] = labels[key];
  return out;
}
