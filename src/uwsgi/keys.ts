const cache = new Map<string, string>();
const CACHE_LIMIT = 10_000;

/**
 * Rewrites a key to `[A-Za-z0-9_]` starting with a letter, as Norikra's field names need: every other
 * character becomes `_` (`"user 0"` → `user_0`, `"core.busy_workers"` → `core_busy_workers`), and a key
 * that does not start with a letter gets a `k_` prefix (`"0"` → `k_0`, `""` → `k_`).
 */
export function escapeKey(key: string): string {
  if (/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) return key;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let out = key.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z]/.test(out)) out = "k_" + out;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, out);
  return out;
}

/** Sets `record[key] = value`, suffixing `_2`, `_3`, … when two source keys escape to the same name. */
export function setUnique(record: Record<string, unknown>, key: string, value: unknown): void {
  if (!(key in record)) {
    record[key] = value;
    return;
  }
  for (let n = 2; ; n++) {
    const candidate = `${key}_${n}`;
    if (!(candidate in record)) {
      record[candidate] = value;
      return;
    }
  }
}

/** Returns a deep copy of `value` with every object key escaped by `escapeKey` (arrays keep their order). */
export function escapeKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeKeysDeep);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setUnique(out, escapeKey(k), escapeKeysDeep(v));
  return out;
}

type FieldType = "number" | "string" | "boolean";

/**
 * Keeps every field of a flat record at one type forever (per tag): the first type seen for a field name
 * wins, and a later value of another type is left out of the record rather than sent with a new type.
 * `null` and non-scalar values are always left out. Returns how many fields were left out.
 */
export class TypeRegistry {
  private readonly types = new Map<string, Map<string, FieldType>>();

  enforce(tag: string, record: Record<string, unknown>): number {
    let known = this.types.get(tag);
    if (!known) {
      known = new Map();
      this.types.set(tag, known);
    }
    let dropped = 0;
    for (const key of Object.keys(record)) {
      const value = record[key];
      const type = typeof value;
      if (type !== "number" && type !== "string" && type !== "boolean") {
        delete record[key];
        dropped++;
        continue;
      }
      if (type === "number" && !Number.isFinite(value)) {
        delete record[key];
        dropped++;
        continue;
      }
      const seen = known.get(key);
      if (seen === undefined) known.set(key, type);
      else if (seen !== type) {
        delete record[key];
        dropped++;
      }
    }
    return dropped;
  }
}

/** Rewrites an inner part of a joined key (`a_b_c`) to `[A-Za-z0-9_]`, without the leading-letter rule. */
export function escapeKeyPart(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/g, "_");
}
