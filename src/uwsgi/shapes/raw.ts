import { escapeKeysDeep } from "../keys.js";

/**
 * The `raw` record: the document as uWSGI sent it (nested, after the vars policy), plus `target` and
 * `repaired`. With `escapeKeys`, every key is rewritten to `[A-Za-z0-9_]` (`"user 0"` → `user_0`). The
 * source's fields win: a document's own `target` or `repaired` key is replaced, counted in `counter.dropped`
 * (a stats server cannot pose as another target).
 */
export function rawRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
  escapeKeys: boolean,
  counter: { dropped: number },
): Record<string, unknown> {
  const body = escapeKeys ? (escapeKeysDeep(doc) as Record<string, unknown>) : doc;
  const out: Record<string, unknown> = { target, repaired, ...body };
  if (Object.hasOwn(body, "target") || Object.hasOwn(body, "repaired")) {
    counter.dropped += Number(Object.hasOwn(body, "target")) + Number(Object.hasOwn(body, "repaired"));
    out.target = target;
    out.repaired = repaired;
  }
  return out;
}
