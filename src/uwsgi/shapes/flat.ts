import { escapeKey, escapeKeyPart, uniqueKey, type TypeRegistry } from "../keys.js";
import { DOCUMENT, hasDocumentType, type DocumentNode } from "./document.js";

/**
 * The `flat` record: every scalar of the document under a key made of its path joined by `_`
 * (`workers_0_cores_1_requests`, `locks_0_user_0`, `metrics_core_busy_workers_value`), each part escaped to
 * `[A-Za-z0-9_]`. Empty arrays and objects and `null` produce no field. `target` and `repaired` come first; a
 * document key that escapes to a name already taken gets `_2`, `_3`, … (so it never replaces `target`).
 * Each path uWSGI writes is typed by the document's tables (DOCUMENT): a value of another type is left out.
 * Any other path is an undeclared field, kept at its first type by `types` under `tag`.
 */
export function flatRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  types: TypeRegistry,
  tag: string,
): Record<string, unknown> {
  const walker = new FlatWalker({ target, repaired }, types, tag);
  walker.object(doc, "", DOCUMENT, true);
  types.dropped += walker.dropped;
  return walker.out;
}

class FlatWalker {
  dropped = 0;

  constructor(
    readonly out: Record<string, unknown>,
    private readonly types: TypeRegistry,
    private readonly tag: string,
  ) {}

  object(value: object, prefix: string, node: DocumentNode | undefined, top = false): void {
    const fields = typeof node === "object" ? node.fields : undefined;
    const anyKey = typeof node === "object" ? node.anyKey : undefined;
    for (const [key, child] of Object.entries(value)) {
      const name = top ? escapeKey(key) : `${prefix}_${escapeKeyPart(key)}`;
      this.value(child, name, fields?.get(key) ?? anyKey);
    }
  }

  value(value: unknown, path: string, node: DocumentNode | undefined): void {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      const items = typeof node === "object" ? node.items : undefined;
      for (let i = 0; i < value.length; i++) this.value(value[i], `${path}_${i}`, items);
      return;
    }
    if (typeof value === "object") {
      this.object(value, path, node);
      return;
    }
    const key = uniqueKey(this.out, path);
    const ok =
      node === undefined
        ? this.types.admit(this.tag, key, value)
        : typeof node === "string" && hasDocumentType(value, node);
    if (ok) this.out[key] = value;
    else this.dropped++;
  }
}
