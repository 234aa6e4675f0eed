import type { Logger } from "./logger.js";

/**
 * Remembers the last state of each target or server and logs only changes, so a target that is down
 * for an hour gives one line when it goes down and one when it comes back, not one per poll.
 */
export class StateLog {
  readonly #states = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  /**
   * Records `state` for `key`; when it differs from the previous state, logs `message` at `level` and returns true.
   * A first state of "up"/"ok" is not a change worth a warning, so callers pick the level.
   */
  change(key: string, state: string, level: "error" | "warn" | "info" | "debug", message: string): boolean {
    if (this.#states.get(key) === state) return false;
    this.#states.set(key, state);
    this.logger[level](message);
    return true;
  }

  /** The last state recorded for `key`. */
  get(key: string): string | undefined {
    return this.#states.get(key);
  }

  /** Every key and its last state. */
  entries(): [string, string][] {
    return [...this.#states];
  }
}
