/** One entity of a poll as the rates see it: what tells it apart, what resets it, and its counters. */
export interface EntityCounters {
  /** Tells the entity apart from the others of its kind in one target (`worker 2 / app 1`, a cache name). */
  readonly key: string;
  /** Changes when the entity's counters start again from zero (a worker's or the spooler's pid, the master's). */
  readonly generation: string;
  /** The counters the document carries for it; an absent one is not in the map. */
  readonly counters: ReadonlyMap<string, number>;
}

/** The rates of one poll of one entity kind: per entity (same order), `undefined` where left out. */
export interface EntityRatesResult {
  /** Measured time since the previous poll of this kind on this target, ms; undefined on the first. */
  readonly intervalMs: number | undefined;
  readonly rates: (Record<string, number> | undefined)[];
}

interface Previous {
  readonly generation: string;
  readonly counters: ReadonlyMap<string, number>;
}

/**
 * Per-target, per-kind memory of the previous poll's counters (apps, cores, caches, spoolers, metrics),
 * turning them into `<counter>_per_sec` over the measured interval. An entity's rates are left out on its
 * first poll, when its generation changed (respawn, restart), when any of its counters went down (reload),
 * and on a poll where the target was reset; a counter gets a rate only when both polls carry it. Only the
 * entities of the last poll are kept, so the memory is as large as one document.
 */
export class EntityRates {
  #previous = new Map<string, Previous>();
  #monotonic: number | undefined;

  update(entities: readonly EntityCounters[], monotonic: number, targetReset: boolean): EntityRatesResult {
    const before = this.#previous;
    const elapsedMs = this.#monotonic === undefined ? undefined : monotonic - this.#monotonic;
    this.#previous = new Map();
    this.#monotonic = monotonic;
    const usable = elapsedMs !== undefined && elapsedMs > 0 && !targetReset;
    const rates = entities.map((entity) => {
      this.#previous.set(entity.key, { generation: entity.generation, counters: entity.counters });
      const prev = before.get(entity.key);
      if (!usable || prev === undefined || prev.generation !== entity.generation) return undefined;
      return counterRates(prev.counters, entity.counters, elapsedMs);
    });
    return { intervalMs: elapsedMs, rates };
  }
}

/** `<name>_per_sec` for each counter both polls carry; undefined when any of them went down. */
export function counterRates(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  elapsedMs: number,
): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const [name, value] of after) {
    const old = before.get(name);
    if (old === undefined) continue;
    if (value < old) return undefined;
    out[`${name}_per_sec`] = ((value - old) * 1000) / elapsedMs;
  }
  return out;
}
