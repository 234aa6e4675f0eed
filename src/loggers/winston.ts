/**
 * `uwsgi-forward/winston`: a winston transport whose ForwardSink runs in a worker thread, so that an app that is
 * done exits by itself after its last lines are delivered (a socket in the main thread would keep it alive).
 * `winston.createLogger({ transports: [new ForwardTransport({ host, port, tag, … })] })`.
 */
import TransportStream from "winston-transport";
import { Worker } from "node:worker_threads";
import type { LoggerDropInfo } from "./log-sink.js";
import { InvalidOptionError } from "../index.js";
import { resolveLoggerOptions, type LoggerDefaults, type LoggerTransportOptions } from "./options.js";
import type { LoggerCloseSummary } from "./shutdown.js";
import type { FromWorker, ToWorker, WorkerData } from "./winston-messages.js";
import { WINSTON_WORKER_FILE } from "./worker-file.js";

export type { LoggerDropInfo, LoggerServerError, LoggerTransportEvents } from "./log-sink.js";
export type { LoggerCloseSummary } from "./shutdown.js";

/** Options of `new ForwardTransport()`: every ForwardSink option, `tag` & co., and winston's transport options. */
export interface ForwardTransportOptions extends LoggerTransportOptions {
  /** winston: the most verbose level this transport takes. Default: the logger's. */
  level?: string;
  /** winston: a format applied to this transport's records only. */
  format?: TransportStream.TransportStreamOptions["format"];
  /** winston: drop every record. Default `false`. */
  silent?: boolean;
  /** winston: also log uncaught exceptions. Default `false`. */
  handleExceptions?: boolean;
  /** winston: also log unhandled rejections. Default `false`. */
  handleRejections?: boolean;
}

const DEFAULTS: LoggerDefaults = { tag: "winston", levelAs: "label", maxCloseTimeoutMs: 600_000 };
const LEVEL = Symbol.for("level");
/** The worker is an extra wait at exit only: its own deadline comes first. */
const EXIT_GRACE_MS = 2000;

/**
 * A winston transport that sends each record to Fluentd over Forward (ForwardSink in a worker thread): the tag
 * from `tag`/`tagKey`/`tagPrefix`, the time when the line was logged, the record's string keys as fields.
 * Validates its options in the constructor (`INVALID_OPTION` naming the option). `logger.end()` or
 * `logger.close()` delivers what is left within `closeTimeoutMs`; so does the app's exit. Events `drop` and
 * `serverError` (LoggerTransportEvents), `closed` (LoggerCloseSummary).
 */
export class ForwardTransport extends TransportStream {
  readonly #worker: Worker;
  readonly #levelAsNumber: boolean;
  readonly #closeTimeoutMs: number;
  readonly #done = new Int32Array(new SharedArrayBuffer(4));
  #lines: string[] = [];
  #times: number[] = [];
  #scheduled = false;
  #closing: Promise<LoggerCloseSummary> | undefined;
  #resolveClosed: ((summary: LoggerCloseSummary) => void) | undefined;
  #rejectClosed: ((error: Error) => void) | undefined;
  readonly #onBeforeExit = (): void => this.close();
  readonly #onExit = (): void => this.#waitAtExit();

  constructor(options: ForwardTransportOptions = {}) {
    const { level, format, silent, handleExceptions, handleRejections, ...rest } = options ?? {};
    super({ level, format, silent, handleExceptions, handleRejections });
    const resolved = resolveLoggerOptions(rest, DEFAULTS);
    this.#levelAsNumber = resolved.levelAs === "number";
    this.#closeTimeoutMs = resolved.closeTimeoutMs;
    const workerData: WorkerData = {
      options: rest,
      defaults: DEFAULTS,
      done: this.#done.buffer as SharedArrayBuffer,
    };
    try {
      this.#worker = new Worker(WINSTON_WORKER_FILE, { workerData });
    } catch (err) {
      // DataCloneError: the options go to the worker by structured clone.
      throw new InvalidOptionError(
        "options",
        `must be plain data the worker can receive (no functions): ${String(err)}`,
      );
    }
    this.#worker.on("message", (message: FromWorker) => this.#onMessage(message));
    this.#worker.on("error", (err) => this.emit("error", err));
    this.#worker.on("exit", () =>
      this.#rejectClosed?.(
        new Error("uwsgi-forward/winston: the worker thread ended before closing its sink"),
      ),
    );
    // After the listeners: adding a "message" listener refs the worker again.
    this.#worker.unref();
    process.on("beforeExit", this.#onBeforeExit);
    process.on("exit", this.#onExit);
  }

  /** winston's hook for each record: queued and passed to the worker in batches. */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const time = Date.now();
    if (this.#closing) {
      this.emit("drop", { count: 1, reason: "closed" } satisfies LoggerDropInfo);
      next();
      return;
    }
    const record: Record<string, unknown> = {};
    for (const key of Object.keys(info)) record[key] = info[key];
    const label = info[LEVEL] ?? info.level;
    if (this.#levelAsNumber) {
      const levels = (this as unknown as { levels?: Record<string, number> }).levels;
      record.level = levels?.[label as string] ?? label;
    } else {
      record.level = label;
    }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      this.emit("drop", { count: 1, reason: "invalid" } satisfies LoggerDropInfo);
      next();
      return;
    }
    this.#lines.push(line);
    this.#times.push(time);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#post());
    }
    next();
  }

  #post(): void {
    this.#scheduled = false;
    if (this.#lines.length === 0) return;
    const message: ToWorker = { type: "events", lines: this.#lines, times: this.#times };
    this.#lines = [];
    this.#times = [];
    this.#worker.postMessage(message);
  }

  #onMessage(message: FromWorker): void {
    if (message.type === "event") this.emit(message.name, message.payload);
    else this.#resolveClosed?.(message.summary);
  }

  /** Delivers what is left within `closeTimeoutMs` and stops the worker; resolves with what was lost. Idempotent. */
  #shutdown(): Promise<LoggerCloseSummary> {
    if (this.#closing) return this.#closing;
    this.#post();
    this.#closing = new Promise<LoggerCloseSummary>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    }).finally(() => {
      process.off("beforeExit", this.#onBeforeExit);
      process.off("exit", this.#onExit);
    });
    this.#closing.then(
      (summary) => this.emit("closed", summary),
      () => {},
    );
    this.#worker.ref();
    this.#worker.postMessage({ type: "close" } satisfies ToWorker);
    return this.#closing;
  }

  /** `process.exit()` or the end of the app with the close not finished: block until the worker is done. */
  #waitAtExit(): void {
    this.close();
    Atomics.wait(this.#done, 0, 0, this.#closeTimeoutMs + EXIT_GRACE_MS);
  }

  /** Called by winston on `logger.close()` (and when the transport is removed): closes in the background. */
  override close(): void {
    // A worker that failed was reported as `error` already.
    this.#shutdown().catch(() => {});
  }

  /** Called on `logger.end()`: the logger's `finish` waits for the delivery. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#shutdown().then(() => callback(), callback);
  }
}
