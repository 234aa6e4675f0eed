import { InvalidOptionError } from "../errors.js";
import {
  assertObject,
  booleanOption,
  describe,
  enumOption,
  integerOption,
  rejectUnknownKeys,
} from "../options.js";
import { parseTarget, TARGET_FORMS, type TargetSpec } from "./address.js";
import { resolveLabels, type LabelValue, type RecordLabels } from "./labels.js";
import { DEFAULT_MAX_ELEMENTS } from "./parse.js";
import type { VarsMode } from "./redact.js";
import { ENTITY_SHAPES, type EntityShape } from "./shapes/entities.js";

/**
 * Record shapes a source can emit: `raw`, `summary`, `worker`, `flat`, and one record per entity of the
 * document (`socket`, `app`, `core`, `cache`, `spooler`, `metric`). Emperor documents always give `raw` and
 * `emperor` records.
 */
export type StatsShape = "raw" | "summary" | "worker" | "flat" | EntityShape;

/** Tags of each kind of record. */
export interface StatsTags {
  raw: string;
  summary: string;
  worker: string;
  flat: string;
  socket: string;
  app: string;
  core: string;
  cache: string;
  spooler: string;
  metric: string;
  emperor: string;
  error: string;
}

/** Options of `new UwsgiStatsSource(options)`. Only `targets` is required. */
export interface UwsgiStatsSourceOptions {
  /** Stats servers: `/path.sock`, `unix:///path`, globs of unix paths, `host:port`, `tcp://host:port`, `http://host:port[/path]`. */
  targets: string[];
  /** Time between the starts of two polls once `start()`ed, ms. Default 1000. */
  intervalMs?: number;
  /** Records to emit per document. Default `["raw"]`. */
  shapes?: StatsShape[];
  /** Tags per record kind; defaults `uwsgi.stats` for raw, else `uwsgi.<kind>` (`uwsgi.summary`, `uwsgi.app`, `uwsgi.error`, …). */
  tags?: Partial<StatsTags>;
  /** Deadline for one target's whole answer, ms. Default 90% of `intervalMs`, at least 100, at most 5000. */
  timeoutMs?: number;
  /** Deadline for one target's connection, ms. Default `min(timeoutMs, 1000)`. */
  connectTimeoutMs?: number;
  /** Largest answer read from one target, bytes; larger ones are cut off and reported. Default 8 MiB. */
  maxBytes?: number;
  /** Most values (scalars, arrays, objects) one document may hold; a larger one is an error record. Default 250000. */
  maxElements?: number;
  /** Targets read at the same time. Default 64. */
  concurrency?: number;
  /** Rewrite every key of `raw` records to `[A-Za-z0-9_]` starting with a letter. Default false. */
  escapeKeys?: boolean;
  /** `cores[].vars` policy: "redact" (default) replaces secrets, "keep" sends all, "drop" removes `vars`. */
  vars?: VarsMode;
  /** The `host` field of every record, so that records of many hosts stay apart downstream. Default `os.hostname()`. */
  hostName?: string;
  /**
   * Static labels added to every record after `host` (`{ env: "prod", role: "api" }`). Keys match
   * `[A-Za-z_][A-Za-z0-9_]*` and must not be a field the records already carry. Default none.
   */
  fields?: Readonly<Record<string, LabelValue>>;
}

/** Options after validation, with every default applied. */
export interface ResolvedSourceOptions {
  readonly targets: readonly TargetSpec[];
  readonly intervalMs: number;
  readonly shapes: ReadonlySet<StatsShape>;
  readonly tags: Readonly<StatsTags>;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxBytes: number;
  readonly maxElements: number;
  readonly concurrency: number;
  readonly escapeKeys: boolean;
  readonly vars: VarsMode;
  /** `{ host, ...fields }`: what every record starts with. */
  readonly labels: RecordLabels;
}

/** Default tags. */
export const DEFAULT_TAGS: Readonly<StatsTags> = Object.freeze({
  raw: "uwsgi.stats",
  summary: "uwsgi.summary",
  worker: "uwsgi.worker",
  flat: "uwsgi.flat",
  socket: "uwsgi.socket",
  app: "uwsgi.app",
  core: "uwsgi.core",
  cache: "uwsgi.cache",
  spooler: "uwsgi.spooler",
  metric: "uwsgi.metric",
  emperor: "uwsgi.emperor",
  error: "uwsgi.error",
});

/** Every shape `shapes` accepts. */
export const STATS_SHAPES: readonly StatsShape[] = ["raw", "summary", "worker", "flat", ...ENTITY_SHAPES];
const SHAPES = STATS_SHAPES;
const KNOWN = [
  "targets",
  "intervalMs",
  "shapes",
  "tags",
  "timeoutMs",
  "connectTimeoutMs",
  "maxBytes",
  "maxElements",
  "concurrency",
  "escapeKeys",
  "vars",
  "hostName",
  "fields",
] as const;

const EXAMPLES: Record<string, string> = {
  intervalMs: "intervalMs: 1000 polls once a second",
  timeoutMs: "timeoutMs: 900 gives each target 900 ms to answer",
  connectTimeoutMs: "connectTimeoutMs: 500",
  maxBytes: "maxBytes: 8388608 accepts answers up to 8 MiB",
  maxElements: "maxElements: 250000",
  concurrency: "concurrency: 64",
};

/** integerOption with an example of a valid value appended to its message. */
function integer(name: string, value: unknown, fallback: number, min: number, max?: number): number {
  try {
    return integerOption(name, value, fallback, min, max);
  } catch (err) {
    if (!(err instanceof InvalidOptionError) || EXAMPLES[name] === undefined) throw err;
    throw new InvalidOptionError(
      name,
      `${err.message.replace(/^Invalid option "[^"]*": /, "")} (e.g. ${EXAMPLES[name]})`,
    );
  }
}

/** Validates source options once, with messages saying what to write instead. */
export function resolveSourceOptions(options: unknown): ResolvedSourceOptions {
  if (options === undefined) {
    throw new InvalidOptionError(
      "targets",
      `required; ${TARGET_FORMS}, e.g. { targets: ["/run/uwsgi/app.stats.sock"] }`,
    );
  }
  assertObject("options", options);
  rejectUnknownKeys("", options, KNOWN);
  const o = options as Record<string, unknown>;

  const rawTargets = typeof o.targets === "string" ? [o.targets] : o.targets;
  if (!Array.isArray(rawTargets) || rawTargets.length === 0) {
    throw new InvalidOptionError(
      "targets",
      `expected a non-empty array of addresses, got ${describe(o.targets)}; ${TARGET_FORMS}, e.g. ["/run/uwsgi/app.stats.sock"]`,
    );
  }
  const targets = rawTargets.map((t, i) => {
    if (typeof t !== "string")
      throw new InvalidOptionError(`targets[${i}]`, `expected a string, got ${describe(t)}`);
    const parsed = parseTarget(t);
    if ("error" in parsed) throw new InvalidOptionError(`targets[${i}]`, parsed.error);
    return parsed;
  });

  const intervalMs = integer("intervalMs", o.intervalMs, 1000, 10, 24 * 3600 * 1000);
  const timeoutMs = integer(
    "timeoutMs",
    o.timeoutMs,
    Math.max(100, Math.round(Math.min(intervalMs, 5556) * 0.9)),
    1,
  );
  const connectTimeoutMs = integer("connectTimeoutMs", o.connectTimeoutMs, Math.min(timeoutMs, 1000), 1);

  let shapes: StatsShape[] = ["raw"];
  if (o.shapes !== undefined) {
    const list = typeof o.shapes === "string" ? [o.shapes] : o.shapes;
    if (!Array.isArray(list) || list.length === 0) {
      throw new InvalidOptionError(
        "shapes",
        `expected a non-empty array of ${SHAPES.map((s) => `"${s}"`).join(", ")}`,
      );
    }
    shapes = list.map((s, i) => enumOption(`shapes[${i}]`, s, "raw", SHAPES));
  }

  const tags: StatsTags = { ...DEFAULT_TAGS };
  if (o.tags !== undefined) {
    assertObject("tags", o.tags);
    rejectUnknownKeys("tags", o.tags, Object.keys(DEFAULT_TAGS));
    for (const [key, value] of Object.entries(o.tags)) {
      if (value === undefined) continue;
      if (typeof value !== "string" || !/^[A-Za-z0-9_.-]+$/.test(value)) {
        throw new InvalidOptionError(
          `tags.${key}`,
          `expected a tag such as "uwsgi.${key}", got ${describe(value)}`,
        );
      }
      tags[key as keyof StatsTags] = value;
    }
  }

  return {
    targets,
    intervalMs,
    shapes: new Set(shapes),
    tags,
    timeoutMs,
    connectTimeoutMs,
    maxBytes: integer("maxBytes", o.maxBytes, 8 * 1024 * 1024, 64),
    maxElements: integer("maxElements", o.maxElements, DEFAULT_MAX_ELEMENTS, 1),
    concurrency: integer("concurrency", o.concurrency, 64, 1, 65536),
    escapeKeys: booleanOption("escapeKeys", o.escapeKeys, false),
    vars: enumOption("vars", o.vars, "redact", ["redact", "keep", "drop"] as const),
    labels: resolveLabels(o.hostName, o.fields),
  };
}
