import { list, num, obj, put, str } from "./fields.js";

/**
 * The `emperor` record, from the Emperor's own `emperor-stats` document: vassal counts by state, their
 * summed respawns, the blacklist length and the throttle level.
 */
export function emperorRecord(
  doc: Record<string, unknown>,
  target: string,
  repaired: boolean,
): Record<string, unknown> {
  const r: Record<string, unknown> = { target, repaired };
  put(r, "version", str(doc.version));
  put(r, "pid", num(doc.pid));
  put(r, "emperor_tyrant", num(doc.emperor_tyrant));
  put(r, "throttle_level", num(doc.throttle_level));
  r.emperors = list(doc.emperor).length;
  const vassals = list(doc.vassals).map(obj);
  r.vassals = vassals.length;
  for (const flag of ["loyal", "ready", "accepting", "cursed"]) {
    r[`vassals_${flag}`] = vassals.filter((v) => (num(v[flag]) ?? 0) > 0).length;
  }
  r.vassals_respawns = vassals.reduce((n, v) => n + (num(v.respawns) ?? 0), 0);
  r.blacklisted = list(doc.blacklist).length;
  return r;
}
