/** A server as smooth weighted round-robin sees it: its weight, and its running score. */
export interface Weighted {
  readonly weight: number;
  current: number;
}

/**
 * Smooth weighted round-robin (nginx's): every candidate gains its weight, the highest score wins and pays back the
 * total, so a 3:1 pair goes a a b a rather than a a a b. Pure; mutates the scores. Undefined when none.
 */
export function pickWeighted<T extends Weighted>(candidates: readonly T[]): T | undefined {
  let best: T | undefined;
  let total = 0;
  for (const c of candidates) {
    c.current += c.weight;
    total += c.weight;
    if (best === undefined || c.current > best.current) best = c;
  }
  if (best !== undefined) best.current -= total;
  return best;
}
