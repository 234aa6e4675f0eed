/** Small readers for uWSGI document values: uWSGI sends integers and strings; anything else is absent. */

/** `value` when it is a finite number, else undefined. */
export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** `value` when it is a safe integer, else undefined: fractions, non-finite numbers and other types are absent. */
export function int(value: unknown): number | undefined {
  return Number.isSafeInteger(value) ? (value as number) : undefined;
}

/** `value` when it is a string, else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** `value` when it is an array, else an empty array. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `value` as a record when it is a plain object, else an empty one. */
export function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Sets `record[key]` only when `value` is defined: absent values are left out, never sent as another type. */
export function put(
  record: Record<string, unknown>,
  key: string,
  value: number | string | boolean | undefined,
): void {
  if (value !== undefined) record[key] = value;
}

/** True when a document is the Emperor's own `emperor-stats` document (vassals, no workers). */
export function isEmperorDocument(doc: Record<string, unknown>): boolean {
  return Array.isArray(doc.vassals) && !Array.isArray(doc.workers);
}
