/**
 * What a uWSGI 2.0 stats document holds: every field uWSGI writes, with the one type it writes it as, per
 * entity (worker, app, core, socket, cache, spooler, metric, lock, cron, daemon). The shapes read entities
 * through these tables, the schema declares record fields from them, and `flat` types its paths by them, so a
 * document that sends a field with another type loses that field, never the type of the field downstream.
 */

/** The type uWSGI writes a field as: integers and strings only (it never writes a fraction or a boolean). */
export type DocumentFieldType = "integer" | "string";

/** One field of an entity; `counter` marks the monotonic ones that get a per-second rate. */
export interface DocumentField {
  readonly name: string;
  readonly type: DocumentFieldType;
  readonly counter?: true;
}

const integer = (name: string): DocumentField => ({ name, type: "integer" });
const counter = (name: string): DocumentField => ({ name, type: "integer", counter: true });
const text = (name: string): DocumentField => ({ name, type: "string" });

/** `workers[]`, scalars only (`apps[]` and `cores[]` are entities of their own). */
export const WORKER_FIELDS: readonly DocumentField[] = [
  integer("id"),
  integer("pid"),
  integer("accepting"),
  counter("requests"),
  integer("delta_requests"),
  counter("exceptions"),
  counter("harakiri_count"),
  counter("signals"),
  integer("signal_queue"),
  text("status"),
  integer("rss"),
  integer("vsz"),
  counter("running_time"),
  integer("last_spawn"),
  counter("respawn_count"),
  counter("tx"),
  integer("avg_rt"),
];

/** `workers[].apps[]`: one per mountpoint (app id) per worker. */
export const APP_FIELDS: readonly DocumentField[] = [
  integer("id"),
  integer("modifier1"),
  text("mountpoint"),
  integer("startup_time"),
  counter("requests"),
  counter("exceptions"),
  text("chdir"),
];

/** `workers[].cores[]`: one per thread or async slot per worker (`vars` and `req_info` aside). */
export const CORE_FIELDS: readonly DocumentField[] = [
  integer("id"),
  counter("requests"),
  counter("static_requests"),
  counter("routed_requests"),
  counter("offloaded_requests"),
  counter("write_errors"),
  counter("read_errors"),
  integer("in_request"),
];

/** `sockets[]`: the listen sockets (gauges only). */
export const SOCKET_FIELDS: readonly DocumentField[] = [
  text("name"),
  text("proto"),
  integer("queue"),
  integer("max_queue"),
  integer("shared"),
  integer("can_offload"),
];

/** `caches[]`: one per `cache2` (`miss` is uWSGI's name). */
export const CACHE_FIELDS: readonly DocumentField[] = [
  text("name"),
  text("hash"),
  integer("hashsize"),
  integer("keysize"),
  integer("max_items"),
  integer("blocks"),
  integer("blocksize"),
  integer("items"),
  counter("hits"),
  counter("miss"),
  counter("full"),
  integer("last_modified_at"),
];

/** `spoolers[]`: `tasks` counts the tasks the spooler process ran since it started (not a queue length). */
export const SPOOLER_FIELDS: readonly DocumentField[] = [
  text("dir"),
  integer("pid"),
  counter("tasks"),
  counter("respawns"),
  integer("running"),
];

/** One value of `metrics{}` (keyed by the metric's name); `type` is 0 counter, 1 gauge, 2 absolute, 3 alias. */
export const METRIC_FIELDS: readonly DocumentField[] = [integer("type"), text("oid"), integer("value")];

/** `crons[]`. */
export const CRON_FIELDS: readonly DocumentField[] = [
  integer("minute"),
  integer("hour"),
  integer("day"),
  integer("month"),
  integer("week"),
  text("command"),
  integer("unique"),
  text("legion"),
  integer("pid"),
  integer("started_at"),
];

/** `daemons[]` (attached daemons). */
export const DAEMON_FIELDS: readonly DocumentField[] = [text("cmd"), integer("pid"), integer("respawns")];

/** The document's own scalars. */
export const TOP_FIELDS: readonly DocumentField[] = [
  text("version"),
  integer("listen_queue"),
  integer("listen_queue_errors"),
  integer("signal_queue"),
  integer("load"),
  integer("pid"),
  integer("uid"),
  integer("gid"),
  text("cwd"),
];

/** True when `value` is of `type` as uWSGI writes it: a safe integer, or a string. */
export function hasDocumentType(value: unknown, type: DocumentFieldType): boolean {
  return type === "integer" ? Number.isSafeInteger(value) : typeof value === "string";
}

/**
 * The document as a tree of what each path holds, for `flat`: an object's known fields, the node every other
 * key of a map holds (`metrics{}` by name, each lock's one key), or an array's items. A path that leads
 * nowhere in the tree is not declared (a field a future uWSGI adds).
 */
export type DocumentNode =
  | DocumentFieldType
  | {
      readonly fields?: ReadonlyMap<string, DocumentNode>;
      readonly anyKey?: DocumentNode;
      readonly items?: DocumentNode;
    };

const object = (fields: readonly DocumentField[], extra: [string, DocumentNode][] = []): DocumentNode => ({
  fields: new Map<string, DocumentNode>([
    ...fields.map((f): [string, DocumentNode] => [f.name, f.type]),
    ...extra,
  ]),
});
const array = (items: DocumentNode): DocumentNode => ({ items });

/** The whole stats document (not the Emperor's own: that one never goes to `flat`). */
export const DOCUMENT: DocumentNode = object(TOP_FIELDS, [
  ["locks", array({ anyKey: "integer" })],
  ["caches", array(object(CACHE_FIELDS))],
  ["sockets", array(object(SOCKET_FIELDS))],
  [
    "workers",
    array(
      object(WORKER_FIELDS, [
        ["apps", array(object(APP_FIELDS))],
        [
          "cores",
          array(
            object(CORE_FIELDS, [
              ["vars", array("string")],
              ["req_info", object([integer("request_start")])],
            ]),
          ),
        ],
      ]),
    ),
  ],
  ["spoolers", array(object(SPOOLER_FIELDS))],
  ["metrics", { anyKey: object(METRIC_FIELDS) }],
  ["crons", array(object(CRON_FIELDS))],
  ["daemons", array(object(DAEMON_FIELDS))],
]);
