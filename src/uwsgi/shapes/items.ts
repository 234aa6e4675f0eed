import type { ForwardItem } from "../../item.js";
import type { TypeRegistry } from "../keys.js";
import type { StatsShape, StatsTags } from "../options.js";
import type { RateResult } from "../rates.js";
import { emperorRecord } from "./emperor.js";
import { flatRecord } from "./flat.js";
import { rawRecord } from "./raw.js";
import { RECORD_SCHEMA } from "./schema.js";
import { summaryRecord } from "./summary.js";
import { workerRecords } from "./worker.js";

/** What decides which items a document becomes. */
export interface ItemOptions {
  readonly shapes: ReadonlySet<StatsShape>;
  readonly tags: Readonly<StatsTags>;
  readonly escapeKeys: boolean;
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
  types.enforce(tags.emperor, emperor);
  return [
    { tag: tags.raw, time, record: rawRecord(doc, target, repaired, options.escapeKeys) },
    { tag: tags.emperor, time, record: emperor, floatFields: RECORD_SCHEMA.emperor.floatFields },
  ];
}

/** The items of one stats document, in the order raw, summary, workers, flat (for the selected shapes). */
export function statsItems(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  time: number,
  rates: RateResult,
  options: ItemOptions,
  types: TypeRegistry,
): ForwardItem[] {
  const { shapes, tags } = options;
  const items: ForwardItem[] = [];
  const add = (tag: string, record: Record<string, unknown>, floatFields: ReadonlySet<string>): void => {
    types.enforce(tag, record);
    items.push({ tag, time, record, floatFields });
  };
  if (shapes.has("raw")) {
    items.push({ tag: tags.raw, time, record: rawRecord(doc, target, repaired, options.escapeKeys) });
  }
  if (shapes.has("summary")) {
    add(tags.summary, summaryRecord(doc, target, repaired, rates), RECORD_SCHEMA.summary.floatFields);
  }
  if (shapes.has("worker")) {
    for (const record of workerRecords(doc, target, repaired, rates)) {
      add(tags.worker, record, RECORD_SCHEMA.worker.floatFields);
    }
  }
  if (shapes.has("flat")) add(tags.flat, flatRecord(doc, target, repaired), RECORD_SCHEMA.flat.floatFields);
  return items;
}
