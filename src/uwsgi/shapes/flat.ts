import { escapeKey, escapeKeyPart, setUnique } from "../keys.js";

/**
 * The `flat` record: every scalar of the document under a key made of its path joined by `_`
 * (`workers_0_cores_1_requests`, `locks_0_user_0`, `metrics_core_busy_workers_value`), each part escaped to
 * `[A-Za-z0-9_]`. Empty arrays and objects and `null` produce no field. `target` and `repaired` come first.
 */
export function flatRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { target, repaired };
  for (const [key, value] of Object.entries(doc)) walk(out, escapeKey(key), value);
  return out;
}

function walk(out: Record<string, unknown>, prefix: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(out, `${prefix}_${i}`, value[i]);
    return;
  }
  if (typeof value === "object") {
    for (const [key, v] of Object.entries(value)) walk(out, `${prefix}_${escapeKeyPart(key)}`, v);
    return;
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
    setUnique(out, prefix, value);
  }
}
