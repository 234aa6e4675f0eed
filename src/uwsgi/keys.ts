import type { RecordFieldType, ShapeSchema } from "./shapes/schema.js";

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

/** `key`, or `key_2`, `key_3`, … when `record` already has it. */
export function uniqueKey(record: Record<string, unknown>, key: string): string {
  if (!(key in record)) return key;
  for (let n = 2; ; n++) {
    const candidate = `${key}_${n}`;
    if (!(candidate in record)) return candidate;
  }
}

/** Sets `record[key] = value`, suffixing `_2`, `_3`, … when two source keys escape to the same name. */
export function setUnique(record: Record<string, unknown>, key: string, value: unknown): void {
  record[uniqueKey(record, key)] = value;
}

/** Returns a deep copy of `value` with every object key escaped by `escapeKey` (arrays keep their order). */
export function escapeKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeKeysDeep);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setUnique(out, escapeKey(k), escapeKeysDeep(v));
  return out;
}

/** How many field names of undeclared fields the registry remembers per tag. */
export const MAX_UNDECLARED_FIELDS = 4096;

type UndeclaredType = "integer" | "string";

/** True when `value` has the declared `type`: integers are safe integers, floats finite numbers. */
export function hasFieldType(value: unknown, type: RecordFieldType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return Number.isSafeInteger(value);
    case "float":
      return typeof value === "number" && Number.isFinite(value);
  }
}

/**
 * Keeps every field of a flat record at one type forever, and counts what it leaves out (`dropped`). A field
 * the schema declares is kept only with its declared type, so a bad document never changes what the good ones
 * after it produce. A field the schema does not declare (a scalar a future uWSGI adds to a worker, an unknown
 * path of `flat`) must be an integer or a string, and keeps the type it was first seen with, per tag; the
 * registry remembers at most MAX_UNDECLARED_FIELDS such names per tag, and past that bound a name it has not
 * seen is left out (a document cannot grow the process without bound).
 */
export class TypeRegistry {
  private readonly types = new Map<string, Map<string, UndeclaredType>>();
  /** Fields left out so far: wrong type, not finite, undeclared past the bound, or a source field's name. */
  dropped = 0;

  /** Leaves out of `record` every field that is not of its one type; returns how many it left out. */
  enforce(tag: string, schema: ShapeSchema, record: Record<string, unknown>): number {
    let dropped = 0;
    for (const key of Object.keys(record)) {
      const value = record[key];
      const declared = schema.typeOf(key);
      const ok =
        declared !== undefined
          ? hasFieldType(value, declared)
          : schema.openEnded && this.admit(tag, key, value);
      if (!ok) {
        delete record[key];
        dropped++;
      }
    }
    this.dropped += dropped;
    return dropped;
  }

  /** Whether an undeclared field `key` with `value` may go out under `tag` (remembering its type if new). */
  admit(tag: string, key: string, value: unknown): boolean {
    const type: UndeclaredType | undefined =
      typeof value === "string" ? "string" : Number.isSafeInteger(value) ? "integer" : undefined;
    if (type === undefined) return false;
    let known = this.types.get(tag);
    if (!known) {
      known = new Map();
      this.types.set(tag, known);
    }
    const seen = known.get(key);
    if (seen !== undefined) return seen === type;
    if (known.size >= MAX_UNDECLARED_FIELDS) return false;
    known.set(key, type);
    return true;
  }

  /** How many undeclared field names the registry remembers for `tag`. */
  size(tag: string): number {
    return this.types.get(tag)?.size ?? 0;
  }
}

/** Rewrites an inner part of a joined key (`a_b_c`) to `[A-Za-z0-9_]`, without the leading-letter rule. */
export function escapeKeyPart(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/g, "_");
}
