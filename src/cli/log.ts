/** Log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** A log level, most severe first: error, warn, info, debug. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log line formats: `text` (one plain line) or `json` (one JSON object per line). */
export const LOG_FORMATS = ["text", "json"] as const;

/** A log line format: text or json. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * What a log line is about, beside its message: a `json` line carries each as its own key (a `text` line has them
 * in its message already), so a log pipeline can filter on `code` or `target` without parsing words.
 */
export interface LogFields {
  /** The stable error code (`UWSGI_STATS_REFUSED`, `FORWARD_CONNECT_FAILED`, …). */
  readonly code?: string;
  /** The uWSGI stats target the line is about. */
  readonly target?: string;
  /** The Forward server (`host:port` or socket path) the line is about. */
  readonly server?: string;
}

/** Where log lines go; `process.stderr` in the sidecar (stdout is kept for --stdout records). */
export interface LogOutput {
  write(line: string): unknown;
}

/**
 * One line per log call: `2026-11-25T11:47:20.123Z warn message` (text), or
 * `{"level":"warn","time":"2026-11-25T11:47:20.123Z","message":"…","code":"…","target":"…"}` (json). Lines below
 * the level are skipped; the level and the format can change at run time (SIGHUP).
 */
export class Logger {
  #rank: number;
  #format: LogFormat;

  constructor(
    level: LogLevel,
    private readonly output: LogOutput,
    private readonly clock: () => Date = () => new Date(),
    format: LogFormat = "text",
  ) {
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#format = format;
  }

  /** Changes the level from now on. */
  setLevel(level: LogLevel): void {
    this.#rank = LOG_LEVELS.indexOf(level);
  }

  /** Changes the format from now on. */
  setFormat(format: LogFormat): void {
    this.#format = format;
  }

  error(message: string, fields?: LogFields): void {
    this.#log("error", message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.#log("warn", message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.#log("info", message, fields);
  }

  debug(message: string, fields?: LogFields): void {
    this.#log("debug", message, fields);
  }

  /** True when lines of `level` are written (to skip building expensive debug messages). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.#rank;
  }

  #log(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (!this.enabled(level)) return;
    const time = this.clock().toISOString();
    if (this.#format === "text") {
      this.output.write(`${time} ${level} ${message}\n`);
      return;
    }
    // Keys in a fixed order; JSON.stringify leaves out the fields that are undefined.
    const { code, target, server } = fields ?? {};
    this.output.write(JSON.stringify({ level, time, message, code, target, server }) + "\n");
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
  change(
    key: string,
    state: string,
    level: "error" | "warn" | "info" | "debug",
    message: string,
    fields?: LogFields,
  ): boolean {
    if (this.#states.get(key) === state) return false;
    this.#states.set(key, state);
    this.logger[level](message, fields);
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
