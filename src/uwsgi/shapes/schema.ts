import {
  APP_FIELDS,
  CACHE_FIELDS,
  CORE_FIELDS,
  SOCKET_FIELDS,
  SPOOLER_FIELDS,
  type DocumentField,
} from "./document.js";
import type { EntityShape } from "./entities.js";

/** The type a record field always has: stores that type a field from its first value see this type. */
export type RecordFieldType = "string" | "integer" | "float" | "boolean";

/** The record kinds whose fields the schema declares: `raw` only its top-level scalars. */
export type SchemaShape = "raw" | "summary" | "worker" | "flat" | "emperor" | EntityShape;

/** One declared field. A name with `<i>` is a family by position (`socket_<i>_queue`: socket_0_queue, …). */
export interface RecordFieldSpec {
  readonly name: string;
  readonly type: RecordFieldType;
}

/** The declared fields of one record kind. */
export interface ShapeSchema {
  readonly fields: readonly RecordFieldSpec[];
  /** Top-level keys whose numbers are always sent as msgpack float64 (set on every item of this kind). */
  readonly floatFields: ReadonlySet<string>;
  /**
   * False when every field of the kind is declared (summary, emperor). True when records also carry fields
   * named by uWSGI's document (raw, flat, and any scalar a future uWSGI adds to a worker): those are integers
   * or strings, as uWSGI sends them, and keep their type.
   */
  readonly openEnded: boolean;
  /** The declared type of `name` (families matched by position), or undefined when not declared. */
  typeOf(name: string): RecordFieldType | undefined;
}

const FIELDS_OF_EVERY_RECORD: readonly RecordFieldSpec[] = [
  { name: "target", type: "string" },
  { name: "host", type: "string" },
  { name: "repaired", type: "boolean" },
];

const RATES: readonly RecordFieldSpec[] = [
  { name: "interval_ms", type: "float" },
  { name: "requests_per_sec", type: "float" },
  { name: "exceptions_per_sec", type: "float" },
  { name: "harakiri_per_sec", type: "float" },
  { name: "respawns_per_sec", type: "float" },
  { name: "tx_per_sec", type: "float" },
  { name: "response_time_us", type: "float" },
];

const integers = (...names: string[]): RecordFieldSpec[] => names.map((name) => ({ name, type: "integer" }));

const SUMMARY: readonly RecordFieldSpec[] = [
  ...FIELDS_OF_EVERY_RECORD,
  { name: "reset", type: "boolean" },
  { name: "version", type: "string" },
  ...integers("pid", "listen_queue", "listen_queue_errors", "signal_queue", "load"),
  ...integers("workers", "workers_busy", "workers_idle", "workers_cheap", "workers_pause"),
  ...integers("workers_signal", "workers_other", "workers_accepting", "cores", "cores_in_request"),
  ...integers("requests", "exceptions", "harakiri", "respawns", "tx", "rss", "vsz", "running_time"),
  ...integers("signals", "avg_rt_max", "avg_rt_weighted"),
  ...integers("sockets", "sockets_queue", "sockets_max_queue", "socket_<i>_queue", "socket_<i>_max_queue"),
  ...integers("spoolers", "spooler_tasks"),
  ...RATES,
];

const WORKER: readonly RecordFieldSpec[] = [
  ...FIELDS_OF_EVERY_RECORD,
  ...integers("master_pid", "id", "pid", "accepting", "requests", "delta_requests", "exceptions"),
  ...integers("harakiri_count", "signals", "signal_queue"),
  { name: "status", type: "string" },
  ...integers("rss", "vsz", "running_time", "last_spawn", "respawn_count", "tx", "avg_rt"),
  ...integers("apps", "cores", "cores_in_request"),
  { name: "respawned", type: "boolean" },
  ...RATES,
];

const EMPEROR: readonly RecordFieldSpec[] = [
  ...FIELDS_OF_EVERY_RECORD,
  { name: "version", type: "string" },
  ...integers("pid", "emperor_tyrant", "throttle_level", "emperors", "vassals", "vassals_loyal"),
  ...integers("vassals_ready", "vassals_accepting", "vassals_cursed", "vassals_respawns", "blacklisted"),
];

/**
 * An entity shape's fields: the base, the master's pid, the labels, the document's fields (`id` renamed to
 * `idName`), and `interval_ms` with a float `<counter>_per_sec` per counter when `rates` says so.
 */
function entityFields(
  labels: readonly RecordFieldSpec[],
  fields: readonly DocumentField[],
  idName?: string,
): RecordFieldSpec[] {
  const own = fields.map((f) => ({ name: f.name === "id" && idName ? idName : f.name, type: f.type }));
  const rates = fields
    .filter((f) => f.counter)
    .map((f) => ({ name: `${f.name}_per_sec`, type: "float" as const }));
  return [
    ...FIELDS_OF_EVERY_RECORD,
    ...integers("master_pid"),
    ...labels,
    ...own.filter((f) => !labels.some((l) => l.name === f.name)),
    ...(rates.length > 0 ? [{ name: "interval_ms", type: "float" as const }, ...rates] : []),
  ];
}

const SOCKET = entityFields([], SOCKET_FIELDS);
const APP = entityFields(integers("worker_id"), APP_FIELDS, "app_id");
const CORE = entityFields(integers("worker_id"), CORE_FIELDS, "core_id");
const CACHE = entityFields([], CACHE_FIELDS);
const SPOOLER = entityFields([], SPOOLER_FIELDS);
const METRIC: readonly RecordFieldSpec[] = [
  ...FIELDS_OF_EVERY_RECORD,
  ...integers("master_pid"),
  { name: "name", type: "string" },
  { name: "type", type: "string" },
  { name: "oid", type: "string" },
  ...integers("value"),
  { name: "interval_ms", type: "float" },
  { name: "value_per_sec", type: "float" },
];

/** uWSGI's own top-level scalars, as a raw document carries them beside the nested parts. */
const RAW: readonly RecordFieldSpec[] = [
  ...FIELDS_OF_EVERY_RECORD,
  { name: "version", type: "string" },
  ...integers("listen_queue", "listen_queue_errors", "signal_queue", "load", "pid", "uid", "gid"),
  { name: "cwd", type: "string" },
];

function shapeSchema(fields: readonly RecordFieldSpec[], openEnded: boolean): ShapeSchema {
  const exact = new Map<string, RecordFieldType>();
  const families: [RegExp, RecordFieldType][] = [];
  for (const field of fields) {
    if (field.name.includes("<i>")) {
      families.push([new RegExp(`^${field.name.replace("<i>", "(0|[1-9][0-9]*)")}$`), field.type]);
    } else exact.set(field.name, field.type);
  }
  const floats = fields.filter((f) => f.type === "float" && !f.name.includes("<i>")).map((f) => f.name);
  return Object.freeze({
    fields: Object.freeze(fields.map((f) => Object.freeze({ ...f }))),
    floatFields: Object.freeze(new Set(floats)) as ReadonlySet<string>,
    openEnded,
    typeOf(name: string): RecordFieldType | undefined {
      const type = exact.get(name);
      if (type !== undefined) return type;
      for (const [pattern, familyType] of families) if (pattern.test(name)) return familyType;
      return undefined;
    },
  });
}

/**
 * Every field of every record kind with its one type (docs/records.md lists the same, and a test holds them
 * together). `uwsgi-forward norikra` opens Norikra's targets with these types; the source marks the float
 * fields on each item (`floatFields`) so that a whole number still goes as a float.
 */
export const RECORD_SCHEMA: Readonly<Record<SchemaShape, ShapeSchema>> = Object.freeze({
  raw: shapeSchema(RAW, true),
  summary: shapeSchema(SUMMARY, false),
  worker: shapeSchema(WORKER, true),
  flat: shapeSchema(FIELDS_OF_EVERY_RECORD, true),
  emperor: shapeSchema(EMPEROR, false),
  socket: shapeSchema(SOCKET, false),
  app: shapeSchema(APP, false),
  core: shapeSchema(CORE, false),
  cache: shapeSchema(CACHE, false),
  spooler: shapeSchema(SPOOLER, false),
  metric: shapeSchema(METRIC, false),
});
