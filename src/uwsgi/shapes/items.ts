import type { ForwardItem } from "../../item.js";
import type { EntityRates } from "../entity-rates.js";
import type { TypeRegistry } from "../keys.js";
import type { StatsShape, StatsTags } from "../options.js";
import type { RateResult, RateTracker, ResetKind } from "../rates.js";
import { emperorRecord } from "./emperor.js";
import { ENTITY_SHAPES, entityRecords, type EntityShape } from "./entities.js";
import { isEmperorDocument } from "./fields.js";
import { flatRecord } from "./flat.js";
import { rawRecord } from "./raw.js";
import { RECORD_SCHEMA, type SchemaShape } from "./schema.js";
import { summaryRecord } from "./summary.js";
import { workerRecords } from "./worker.js";

/** What decides which items a document becomes. */
export interface ItemOptions {
  readonly shapes: ReadonlySet<StatsShape>;
  readonly tags: Readonly<StatsTags>;
  readonly escapeKeys: boolean;
}

/** A target's memory across polls, as one document's items need it. */
export interface TargetHistory {
  /** The summary and worker rates of this poll. */
  readonly rates: RateResult;
  /** When the reply arrived, on the monotonic clock (ms). */
  readonly monotonic: number;
  /** The target's memory of the previous poll's entities of `shape`. */
  entityRates(shape: EntityShape): EntityRates;
}

/** A target's memory across polls: its rates and its entities' previous counters (a TargetState). */
export interface TargetMemory {
  readonly rates: RateTracker;
  entityRates(shape: EntityShape): EntityRates;
}

/**
 * The items of one parsed document of a target (after the vars policy), and the reset it showed: the Emperor's
 * own document gives `raw` and `emperor`; a stats document the selected shapes, with rates from `memory`.
 */
export function documentItems(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  time: number,
  monotonic: number,
  memory: TargetMemory,
  options: ItemOptions,
  types: TypeRegistry,
): { items: ForwardItem[]; reset: ResetKind | undefined } {
  if (isEmperorDocument(doc)) {
    return { items: emperorItems(doc, target, repaired, time, options, types), reset: undefined };
  }
  const rates = memory.rates.update(doc, monotonic);
  const history: TargetHistory = { rates, monotonic, entityRates: (shape) => memory.entityRates(shape) };
  return { items: statsItems(doc, target, repaired, time, history, options, types), reset: rates.reset };
}

/** The items of one reply from the Emperor's `emperor-stats`: always `raw` and `emperor`. */
export function emperorItems(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  time: number,
  options: ItemOptions,
  types: TypeRegistry,
): ForwardItem[] {
  const { tags } = options;
  const emperor = emperorRecord(doc, target, repaired);
  types.enforce(tags.emperor, RECORD_SCHEMA.emperor, emperor);
  return [
    { tag: tags.raw, time, record: rawRecord(doc, target, repaired, options.escapeKeys, types) },
    { tag: tags.emperor, time, record: emperor, floatFields: RECORD_SCHEMA.emperor.floatFields },
  ];
}

/**
 * The items of one stats document, in the order raw, summary, workers, flat, then socket, app, core, cache,
 * spooler and metric records (for the selected shapes). Every record but raw is checked against its schema.
 */
export function statsItems(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  time: number,
  history: TargetHistory,
  options: ItemOptions,
  types: TypeRegistry,
): ForwardItem[] {
  const { shapes, tags } = options;
  const { rates } = history;
  const items: ForwardItem[] = [];
  const add = (shape: SchemaShape & keyof StatsTags, record: Record<string, unknown>): void => {
    const schema = RECORD_SCHEMA[shape];
    types.enforce(tags[shape], schema, record);
    items.push({ tag: tags[shape], time, record, floatFields: schema.floatFields });
  };
  if (shapes.has("raw")) {
    items.push({ tag: tags.raw, time, record: rawRecord(doc, target, repaired, options.escapeKeys, types) });
  }
  if (shapes.has("summary")) add("summary", summaryRecord(doc, target, repaired, rates));
  if (shapes.has("worker")) {
    for (const record of workerRecords(doc, target, repaired, rates, types)) add("worker", record);
  }
  if (shapes.has("flat")) {
    const record = flatRecord(doc, target, repaired, types, tags.flat);
    items.push({ tag: tags.flat, time, record, floatFields: RECORD_SCHEMA.flat.floatFields });
  }
  const reset = rates.reset !== undefined;
  for (const shape of ENTITY_SHAPES) {
    if (!shapes.has(shape)) continue;
    const memory = history.entityRates(shape);
    for (const record of entityRecords(shape, doc, target, repaired, memory, history.monotonic, reset)) {
      add(shape, record);
    }
  }
  return items;
}
