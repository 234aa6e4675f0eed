/**
 * `uwsgi-forward/winston`: a winston transport whose ForwardSink runs in a worker thread, started and ended by
 * thread-stream as pino's transports are, so that an app that is done exits by itself after its last lines are
 * delivered (a socket in the main thread would keep it alive).
 * `winston.createLogger({ transports: [new ForwardTransport({ host, port, tag, … })] })`.
 */
import TransportStream from "winston-transport";
import ThreadStream from "thread-stream";
import * as onExit from "on-exit-leak-free";
import { writeSync } from "node:fs";
import type { LoggerDropInfo } from "./log-sink.js";
import { InvalidOptionError } from "../index.js";
import { resolveLoggerOptions, type LoggerDefaults, type LoggerTransportOptions } from "./options.js";
import type { LoggerCloseSummary } from "./shutdown.js";
import { EventWriter } from "./winston-wire.js";
import type { WinstonWorkerData } from "./winston-worker.js";
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
/** thread-stream's stream as it is (its declarations leave these out). */
type WorkerStream = ThreadStream & { ref(): void; unref(): void; readonly destroyed: boolean };
/** A batch this large goes to the worker at once rather than at the end of the tick. */
const BATCH_BYTES = 1 << 20;

/**
 * A winston transport that sends each record to Fluentd over Forward (ForwardSink in a worker thread): the tag
 * from `tag`/`tagKey`/`tagPrefix`, the time when the line was logged, the record's string keys as fields, their
 * values as the sink encodes them (a Buffer as bin, a bigint as int64; a Date as its ISO string). Validates its
 * options in the constructor (`INVALID_OPTION` naming the option). `logger.end()` or `logger.close()` delivers what
 * is left within `closeTimeoutMs`; so does the app's exit (within 9 s). Events `drop` and `serverError`
 * (LoggerTransportEvents), `closed` (LoggerCloseSummary).
 */
export class ForwardTransport extends TransportStream {
  readonly #stream: WorkerStream;
  readonly #writer = new EventWriter();
  readonly #levelAsNumber: boolean;
  #scheduled = false;
  #closing: Promise<LoggerCloseSummary> | undefined;
  #settle: { resolve: (summary: LoggerCloseSummary) => void; reject: (error: Error) => void } | undefined;

  constructor(options: ForwardTransportOptions = {}) {
    const { level, format, silent, handleExceptions, handleRejections, ...rest } = options ?? {};
    super({ level, format, silent, handleExceptions, handleRejections });
    const resolved = resolveLoggerOptions(rest, DEFAULTS);
    this.#levelAsNumber = resolved.levelAs === "number";
    const workerData: WinstonWorkerData = { options: rest, defaults: DEFAULTS };
    try {
      this.#stream = new ThreadStream({ filename: WINSTON_WORKER_FILE.href, workerData }) as WorkerStream;
    } catch (err) {
      // DataCloneError: the options go to the worker by structured clone.
      throw new InvalidOptionError(
        "options",
        `must be plain data the worker can receive (no functions): ${String(err)}`,
      );
    }
    const stream = this.#stream;
    // Sent by the worker (worker-thread.ts), re-emitted by thread-stream.
    stream.on("drop", (info: LoggerDropInfo) => this.emit("drop", info));
    stream.on("serverError", (error: unknown) => this.emit("serverError", error));
    stream.on("closed", (summary: LoggerCloseSummary) => this.#settle?.resolve(summary));
    stream.on("error", (err: Error) => this.emit("error", err));
    // As pino does: the worker holds the app until it runs, then only the exit hook ends it.
    stream.on("ready", () => {
      if (this.#closing === undefined) stream.unref();
    });
    stream.on("close", () => {
      onExit.unregister(this);
      this.#settle?.reject(
        new Error("uwsgi-forward/winston: the worker thread ended before closing its sink"),
      );
    });
    onExit.register(this, ForwardTransport.#endAtExit);
  }

  /** winston's hook for each record: encoded now, passed to the worker at the end of the tick. */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const time = Date.now();
    // A worker that failed was reported as `error`.
    if (this.#closing || this.#stream.destroyed) {
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
    try {
      this.#writer.add(record, time);
    } catch {
      this.emit("drop", { count: 1, reason: "invalid" } satisfies LoggerDropInfo);
      next();
      return;
    }
    if (this.#writer.length >= BATCH_BYTES) this.#send();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#send());
    }
    next();
  }

  #send(): void {
    this.#scheduled = false;
    if (this.#writer.length === 0) return;
    const text = this.#writer.take();
    if (!this.#stream.destroyed) this.#stream.write(text);
  }

  /** Delivers what is left within `closeTimeoutMs` and ends the worker; resolves with what was lost. Idempotent. */
  #shutdown(): Promise<LoggerCloseSummary> {
    if (this.#closing) return this.#closing;
    this.#closing = new Promise<LoggerCloseSummary>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    if (this.#stream.destroyed) {
      this.#settle!.reject(
        new Error("uwsgi-forward/winston: the worker thread ended before closing its sink"),
      );
    } else {
      // The close mark follows the last events; the worker closes its sink, then ends.
      this.#writer.addClose();
      this.#send();
      this.#stream.ref();
    }
    this.#closing.then(
      (summary) => this.emit("closed", summary),
      () => {},
    );
    return this.#closing;
  }

  /**
   * The app's exit (its event loop empty, or `process.exit()`), as pino's transports end: what this tick logged
   * goes to the worker, then thread-stream ends it and waits for it (at most 10 s) while its sink closes.
   */
  static #endAtExit(transport: ForwardTransport): void {
    const stream = transport.#stream;
    try {
      transport.#send();
      stream.flushSync();
      stream.end();
    } catch (err) {
      writeSync(2, `uwsgi-forward/winston: the worker did not end at exit: ${String(err)}\n`);
    }
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
