import { DEFAULT_TAGS, RECORD_SCHEMA, type SchemaShape } from "../../index.js";

/** A Norikra target to open: its name, the fields it is opened with, and the fields reserved after. */
export interface TargetPlan {
  readonly shape: SchemaShape;
  readonly name: string;
  /** Fields every record of the shape carries: the target's base (Norikra fills them with null when absent). */
  readonly base: Readonly<Record<string, string>>;
  /** Every other declared field, reserved as optional: a query that names one skips events without it. */
  readonly optional: Readonly<Record<string, string>>;
}

const BASE_FIELDS = new Set(["target", "host", "repaired"]);
/** Every shape the schema declares, in its order: raw, summary, worker, flat, emperor, then the entities. */
const SHAPES = Object.keys(RECORD_SCHEMA) as SchemaShape[];

/**
 * The targets fluent-plugin-norikra makes of the sidecar's default tags with `remove_tag_prefix uwsgi`
 * (examples/td-agent.conf): `stats`, `summary`, `worker`, `flat`, `emperor`, `socket`, `app`, `core`, `cache`,
 * `spooler`, `metric`, each with `prefix` in front
 * (`uwsgi_` without remove_tag_prefix), and every field typed from RECORD_SCHEMA. Positional families
 * (`socket_<i>_queue`) cannot be listed and are typed from their first value (always an integer).
 */
export function targetPlans(prefix: string): TargetPlan[] {
  return SHAPES.map((shape) => {
    const base: Record<string, string> = {};
    const optional: Record<string, string> = {};
    for (const field of RECORD_SCHEMA[shape].fields) {
      if (field.name.includes("<i>")) continue;
      (BASE_FIELDS.has(field.name) ? base : optional)[field.name] = field.type;
    }
    const tagSuffix = DEFAULT_TAGS[shape].replace(/^uwsgi\./, "");
    return { shape, name: `${prefix}${tagSuffix}`, base, optional };
  });
}
