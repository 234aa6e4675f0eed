import type { ForwardItem } from "../../src/item.js";
import { TypeRegistry } from "../../src/uwsgi/keys.js";
import { labelRecord } from "../../src/uwsgi/labels.js";
import { DEFAULT_TAGS, type StatsShape } from "../../src/uwsgi/options.js";
import { parseDocument } from "../../src/uwsgi/parse.js";
import { applyVarsPolicy } from "../../src/uwsgi/redact.js";
import { documentItems } from "../../src/uwsgi/shapes/items.js";
import { TargetState } from "../../src/uwsgi/targets.js";

/** One document shaped: its items and how many fields were left out of them (the poll's `droppedFields`). */
export interface Shaped {
  readonly items: ForwardItem[];
  readonly dropped: number;
}

/**
 * Shapes the documents of one target as UwsgiStatsSource does (parse, vars policy, shapes, type checks, host
 * label), on a monotonic clock the test gives: rates are exact functions of the documents and the times.
 */
export class DocumentShaper {
  readonly types = new TypeRegistry();
  readonly memory = new TargetState();
  readonly #shapes: ReadonlySet<StatsShape>;

  constructor(
    shapes: readonly StatsShape[],
    readonly target = "/s.sock",
  ) {
    this.#shapes = new Set(shapes);
  }

  /** The items of `body` (the bytes a stats server sent, or a document object) read at `monotonic` ms. */
  shape(body: Buffer | string | object, monotonic: number): Shaped {
    const bytes = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    const before = this.types.dropped;
    const { doc, repaired, nonFinite } = parseDocument(this.target, bytes);
    applyVarsPolicy(doc, "redact");
    const options = { shapes: this.#shapes, tags: DEFAULT_TAGS, escapeKeys: false };
    const { items } = documentItems(
      doc,
      this.target,
      repaired,
      0,
      monotonic,
      this.memory,
      options,
      this.types,
    );
    const labelled = items.map((item) => ({ ...item, record: labelRecord({ host: "h" }, item.record) }));
    return { items: labelled, dropped: this.types.dropped - before + nonFinite };
  }

  /** The records of `tag` in `shaped`. */
  static records(shaped: Shaped, tag: string): Record<string, unknown>[] {
    return shaped.items.filter((i) => i.tag === tag).map((i) => i.record);
  }
}
