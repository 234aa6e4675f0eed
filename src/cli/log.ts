/** Log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** A log level, most severe first: error, warn, info, debug. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go; `process.stderr` in the sidecar (stdout is kept for --stdout records). */
export interface LogOutput {
  write(line: string): unknown;
}

/**
 * Plain one-line logs: `2026-11-25T11:47:20.123Z warn message`. Lines below the level are skipped;
 * the level can change at run time (SIGHUP with a new log-level).
 */
export class Logger {
  #rank: number;

  constructor(
    level: LogLevel,
    private readonly output: LogOutput,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.#rank = LOG_LEVELS.indexOf(level);
  }

  /** Changes the level from now on. */
  setLevel(level: LogLevel): void {
    this.#rank = LOG_LEVELS.indexOf(level);
  }

  error(message: string): void {
    this.#log("error", message);
  }

  warn(message: string): void {
    this.#log("warn", message);
  }

  info(message: string): void {
    this.#log("info", message);
  }

  debug(message: string): void {
    this.#log("debug", message);
  }

  /** True when lines of `level` are written (to skip building expensive debug messages). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.#rank;
  }

  #log(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    this.output.write(`${this.clock().toISOString()} ${level} ${message}\n`);
  }
}

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
