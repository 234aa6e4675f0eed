import type { StatsAddress, TargetSpec } from "./address.js";
import { UwsgiStatsError, UwsgiStatsErrorCode as Code } from "./errors.js";
import { GlobPattern } from "./glob.js";
import { EntityRates } from "./entity-rates.js";
import { RateTracker } from "./rates.js";
import type { EntityShape } from "./shapes/entities.js";

/** One concrete target of one poll. */
export interface ResolvedTarget {
  /** The name records carry: the configured string, or the matched path for a glob. */
  readonly target: string;
  readonly address: StatsAddress;
  /** True when the target came from a glob (an Emperor vassal): refusals are reported once, as stale. */
  readonly fromGlob: boolean;
}

/** Health and history of one target across polls. */
export class TargetState {
  readonly rates = new RateTracker();
  readonly #entityRates = new Map<EntityShape, EntityRates>();
  /** Consecutive failed polls, and when the first of them happened (epoch ms). */
  failedPolls = 0;
  failingSince = 0;
  lastCode: string | undefined;
  /** Reported stale (a glob's socket file that refuses connections); kept quiet until it answers again. */
  stale = false;
  /** Reads and failed reads over the target's life, for `source.stats()`. */
  reads = 0;
  failures = 0;
  /** Wall time of the last read, ms, and the epoch ms of the last good reply. */
  lastDurationMs: number | undefined;
  lastSuccessAt: number | undefined;
  /** The last read gave a usable document. */
  up = false;

  /** The memory of the previous poll's entities of `shape` (apps, cores, …), created on first use. */
  entityRates(shape: EntityShape): EntityRates {
    let memory = this.#entityRates.get(shape);
    if (!memory) {
      memory = new EntityRates();
      this.#entityRates.set(shape, memory);
    }
    return memory;
  }
}

/** What happened to a target's health on one poll. */
export type HealthChange =
  | { readonly kind: "ok" }
  | {
      readonly kind: "recovered";
      readonly failedPolls: number;
      readonly downMs: number;
      readonly lastCode: string | undefined;
      readonly wasStale: boolean;
    }
  | { readonly kind: "failed" }
  | { readonly kind: "stale" }
  | { readonly kind: "quiet" };

/**
 * The set of targets of a source: explicit ones always, globs expanded on every poll (Emperor vassals
 * appear and vanish), de-duplicated, with per-target state that is forgotten when a glob stops matching.
 */
export class TargetRegistry {
  private readonly specs: readonly TargetSpec[];
  private readonly globs = new Map<string, GlobPattern>();
  private readonly states = new Map<string, TargetState>();

  constructor(specs: readonly TargetSpec[]) {
    this.specs = specs;
    for (const spec of specs)
      if (spec.kind === "glob") this.globs.set(spec.pattern, new GlobPattern(spec.pattern));
  }

  /** The targets of this poll, and the glob patterns that could not be expanded. */
  async resolve(): Promise<{ targets: ResolvedTarget[]; errors: UwsgiStatsError[] }> {
    const targets: ResolvedTarget[] = [];
    const errors: UwsgiStatsError[] = [];
    const seen = new Set<string>();
    const seenPaths = new Set<string>();
    for (const spec of this.specs) {
      if (spec.kind === "address") {
        const key = addressKey(spec.address);
        if (seen.has(key)) continue;
        seen.add(key);
        if (spec.address.kind === "unix") seenPaths.add(spec.address.path);
        targets.push({ target: spec.target, address: spec.address, fromGlob: false });
      }
    }
    for (const spec of this.specs) {
      if (spec.kind !== "glob") continue;
      let paths: string[];
      try {
        paths = await (this.globs.get(spec.pattern) as GlobPattern).expand();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        errors.push(
          new UwsgiStatsError(
            Code.GLOB_FAILED,
            spec.prefix + spec.pattern,
            `cannot expand ${spec.pattern}: ${e.code ?? e.message}`,
            {
              cause: err,
            },
          ),
        );
        continue;
      }
      for (const path of paths) {
        if (seenPaths.has(path)) continue;
        seenPaths.add(path);
        seen.add(addressKey({ kind: "unix", path }));
        targets.push({ target: spec.prefix + path, address: { kind: "unix", path }, fromGlob: true });
      }
    }
    const live = new Set(targets.map((t) => t.target));
    for (const name of this.states.keys()) if (!live.has(name)) this.states.delete(name);
    return { targets, errors };
  }

  /** The state of a target, created on first use. */
  state(target: string): TargetState {
    let state = this.states.get(target);
    if (!state) {
      state = new TargetState();
      this.states.set(target, state);
    }
    return state;
  }

  /** The state of a target, or undefined when it is not known (never read, or forgotten). */
  known(target: string): TargetState | undefined {
    return this.states.get(target);
  }

  /** Every target known now, with its state, in the order they were first read. */
  entries(): IterableIterator<[string, TargetState]> {
    return this.states.entries();
  }

  /** Records a successful read; says whether the target recovered from failures. */
  succeeded(target: string, now: number): HealthChange {
    const state = this.state(target);
    state.reads++;
    state.up = true;
    state.lastSuccessAt = now;
    if (state.failedPolls === 0 && !state.stale) return { kind: "ok" };
    const change: HealthChange = {
      kind: "recovered",
      failedPolls: state.failedPolls,
      downMs: now - state.failingSince,
      lastCode: state.lastCode,
      wasStale: state.stale,
    };
    state.failedPolls = 0;
    state.stale = false;
    state.lastCode = undefined;
    return change;
  }

  /**
   * Records a failed read. A glob target whose socket file vanished meanwhile is forgotten (`quiet`); one
   * that refuses is `stale` once, then `quiet`; every other failure is `failed` (reported every poll).
   */
  failed(target: ResolvedTarget, err: UwsgiStatsError, now: number): HealthChange {
    if (target.fromGlob && err.code === Code.NOT_FOUND) {
      this.states.delete(target.target);
      return { kind: "quiet" };
    }
    const state = this.state(target.target);
    state.reads++;
    state.failures++;
    state.up = false;
    if (state.failedPolls === 0) state.failingSince = now;
    state.failedPolls++;
    state.lastCode = err.code;
    if (target.fromGlob && err.code === Code.REFUSED) {
      if (state.stale) return { kind: "quiet" };
      state.stale = true;
      return { kind: "stale" };
    }
    return { kind: "failed" };
  }
}

function addressKey(address: StatsAddress): string {
  switch (address.kind) {
    case "unix":
      return `unix:${address.path}`;
    case "tcp":
      return `tcp:${address.host}:${address.port}`;
    case "http":
      return `http:${address.host}:${address.port}${address.path}`;
  }
}
