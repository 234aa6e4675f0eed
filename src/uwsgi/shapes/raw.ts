import { escapeKeysDeep } from "../keys.js";

/**
 * The `raw` record: the document as uWSGI sent it (nested, after the vars policy), plus `target` and
 * `repaired`. With `escapeKeys`, every key is rewritten to `[A-Za-z0-9_]` (`"user 0"` → `user_0`).
 */
export function rawRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  escapeKeys: boolean,
): Record<string, unknown> {
  const body = escapeKeys ? (escapeKeysDeep(doc) as Record<string, unknown>) : doc;
  return { target, repaired, ...body };
}
