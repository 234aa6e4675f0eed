import type { EntityCounters, EntityRates } from "../entity-rates.js";
import {
  APP_FIELDS,
  CACHE_FIELDS,
  CORE_FIELDS,
  SOCKET_FIELDS,
  SPOOLER_FIELDS,
  type DocumentField,
} from "./document.js";
import { int, list, obj, put, str } from "./fields.js";

/** The shapes that give one record per entity of the document. */
export type EntityShape = "socket" | "app" | "core" | "cache" | "spooler" | "metric";

/** Every entity shape, in the order their records go out. */
export const ENTITY_SHAPES: readonly EntityShape[] = ["socket", "app", "core", "cache", "spooler", "metric"];

/** uWSGI's metric type codes (`metrics{}.type`), as the `metric` record names them. */
export const METRIC_TYPES: Readonly<Record<number, string>> = Object.freeze({
  0: "counter",
  1: "gauge",
  2: "absolute",
  3: "alias",
});

/** One entity found in the document: its record's labels, the object its fields come from, its counters. */
interface Entity extends EntityCounters {
  /** Labels first (`worker_id`, `app_id`, …), then the copied fields. */
  readonly head: Record<string, unknown>;
  readonly from: Record<string, unknown>;
}

/** How one shape finds its entities and which of their fields it copies (a field named in `head` is not). */
interface EntityKind {
  readonly fields: readonly DocumentField[];
  readonly copied: readonly DocumentField[];
  find(doc: Record<string, unknown>, masterPid: number | undefined): Entity[];
}

/** A value the document gives: `null` counts as absent, like a missing key. */
const present = (value: unknown): boolean => value !== undefined && value !== null;

const without = (fields: readonly DocumentField[], ...names: string[]): DocumentField[] =>
  fields.filter((f) => !names.includes(f.name));

function counters(from: Record<string, unknown>, fields: readonly DocumentField[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const field of fields) {
    if (!field.counter) continue;
    const v = int(from[field.name]);
    if (v !== undefined) out.set(field.name, v);
  }
  return out;
}

/** The objects of `workers[i][key]` with the worker's id and pid, for apps and cores. */
function perWorker(
  doc: Record<string, unknown>,
  key: "apps" | "cores",
  idName: "app_id" | "core_id",
  fields: readonly DocumentField[],
  masterPid: number | undefined,
): Entity[] {
  const out: Entity[] = [];
  list(doc.workers).forEach((item, w) => {
    const worker = obj(item);
    const workerId = int(worker.id);
    const generation = `${String(masterPid)}/${String(int(worker.pid))}`;
    list(worker[key]).forEach((child, i) => {
      const from = obj(child);
      const head: Record<string, unknown> = {};
      put(head, "worker_id", workerId);
      if (present(from.id)) head[idName] = from.id;
      out.push({
        key: `${workerId ?? `#${w}`}/${i}`,
        generation,
        head,
        from,
        counters: counters(from, fields),
      });
    });
  });
  return out;
}

/** The objects of a top-level array, each with its position in the key. */
function topLevel(
  doc: Record<string, unknown>,
  key: "sockets" | "caches" | "spoolers",
  label: "name" | "dir",
  fields: readonly DocumentField[],
  generation: (from: Record<string, unknown>) => string,
): Entity[] {
  return list(doc[key]).map((item, i) => {
    const from = obj(item);
    return {
      key: `${i}/${String(str(from[label]))}`,
      generation: generation(from),
      head: {},
      from,
      counters: counters(from, fields),
    };
  });
}

const KINDS: Readonly<Record<EntityShape, EntityKind>> = {
  socket: {
    fields: SOCKET_FIELDS,
    copied: SOCKET_FIELDS,
    find: (doc) => topLevel(doc, "sockets", "name", SOCKET_FIELDS, () => ""),
  },
  app: {
    fields: APP_FIELDS,
    copied: without(APP_FIELDS, "id"),
    find: (doc, masterPid) => perWorker(doc, "apps", "app_id", APP_FIELDS, masterPid),
  },
  core: {
    fields: CORE_FIELDS,
    copied: without(CORE_FIELDS, "id"),
    find: (doc, masterPid) => perWorker(doc, "cores", "core_id", CORE_FIELDS, masterPid),
  },
  cache: {
    fields: CACHE_FIELDS,
    copied: CACHE_FIELDS,
    find: (doc, masterPid) => topLevel(doc, "caches", "name", CACHE_FIELDS, () => String(masterPid)),
  },
  spooler: {
    fields: SPOOLER_FIELDS,
    copied: SPOOLER_FIELDS,
    // A spooler's `tasks` starts again from 0 when its process is respawned.
    find: (doc, masterPid) =>
      topLevel(doc, "spoolers", "dir", SPOOLER_FIELDS, (s) => `${String(masterPid)}/${String(int(s.pid))}`),
  },
  metric: {
    fields: [],
    copied: [],
    find: (doc, masterPid) =>
      Object.entries(obj(doc.metrics)).map(([name, item]) => {
        const from = obj(item);
        const code = int(from.type);
        const head: Record<string, unknown> = { name };
        // An unknown type is copied as sent, so that the type check leaves it out and counts it.
        if (present(from.type))
          head.type = code === undefined ? from.type : (METRIC_TYPES[code] ?? from.type);
        if (present(from.oid)) head.oid = from.oid;
        if (present(from.value)) head.value = from.value;
        const value = int(from.value);
        const counted = new Map<string, number>();
        if (code === 0 && value !== undefined) counted.set("value", value);
        return { key: name, generation: String(masterPid), head, from: {}, counters: counted };
      }),
  },
};

/**
 * The records of one entity shape: one per entity of the document, with `target`, `repaired`, the master's
 * pid, the labels that tell the entity apart, every field the document gives for it (as sent: the type check
 * that follows leaves out a wrong one), and the per-second rates of its counters from `memory`.
 */
export function entityRecords(
  shape: EntityShape,
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  memory: EntityRates,
  monotonic: number,
  targetReset: boolean,
): Record<string, unknown>[] {
  const kind = KINDS[shape];
  const masterPid = int(doc.pid);
  const entities = kind.find(doc, masterPid);
  const { intervalMs, rates } = memory.update(entities, monotonic, targetReset);
  return entities.map((entity, i) => {
    const r: Record<string, unknown> = { target, repaired };
    put(r, "master_pid", masterPid);
    Object.assign(r, entity.head);
    for (const field of kind.copied) {
      const value = entity.from[field.name];
      if (present(value)) r[field.name] = value;
    }
    if (shape !== "socket") put(r, "interval_ms", intervalMs);
    const entityRates = rates[i];
    if (entityRates) Object.assign(r, entityRates);
    return r;
  });
}

/** The counters of each entity shape that get a `<name>_per_sec` rate. */
export function entityCounters(shape: EntityShape): string[] {
  if (shape === "metric") return ["value"];
  return KINDS[shape].fields.filter((f) => f.counter).map((f) => f.name);
}
