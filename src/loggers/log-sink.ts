import { ForwardSink, type DropReason } from "../index.js";
import type { ResolvedLoggerOptions } from "./options.js";
import { closeSink, withDeadline, type LoggerCloseSummary } from "./shutdown.js";

/** Why a log event was dropped: the sink's reasons, or `invalid` (the sink refused the event: a time out of range). */
export type LoggerDropReason = DropReason | "invalid";

/** Payload of a transport's `drop` event. */
export interface LoggerDropInfo {
  count: number;
  reason: LoggerDropReason;
}

/** A `serverError` as it crosses a thread: the error's code and message (an Error loses its class on the way). */
export interface LoggerServerError {
  code: string;
  message: string;
  /** The server's id (`host:port` or the socket path). */
  server: string;
}

/** The sink events a logger transport re-emits, with payloads that survive `postMessage`. */
export interface LoggerTransportEvents {
  /** Log events were dropped (overflow policy, refused, or undelivered at close). */
  drop: (info: LoggerDropInfo) => void;
  /** A recoverable server problem (connection refused, auth failed, …); the sink keeps trying. */
  serverError: (error: LoggerServerError) => void;
}

/** Sends one of LoggerTransportEvents to wherever the app listens (the main thread). */
export type EventPost = <E extends keyof LoggerTransportEvents>(
  name: E,
  payload: Parameters<LoggerTransportEvents[E]>[0],
) => void;

/**
 * A ForwardSink fed by a logger: tags each record, never holds the logger back (past the buffer limit events are
 * dropped and counted, whatever `overflow` says, since a logger cannot wait), relays `drop` and `serverError`,
 * and closes with a deadline.
 */
export class LogSink {
  readonly #sink: ForwardSink;
  readonly #options: ResolvedLoggerOptions;
  readonly #name: string;
  readonly #post: EventPost;
  #invalid = 0;

  constructor(name: string, options: ResolvedLoggerOptions, post: EventPost) {
    this.#name = name;
    this.#options = options;
    this.#post = post;
    this.#sink = new ForwardSink(options.sink);
    this.#sink.on("drop", (info) => post("drop", { count: info.count, reason: info.reason }));
    this.#sink.on("serverError", (error, server) =>
      post("serverError", { code: error.code, message: error.message, server: server.id }),
    );
  }

  /** Sends a record at `timeMs` (epoch ms; undefined = now) under its tag. */
  send(record: Record<string, unknown>, timeMs: number | undefined): void {
    const o = this.#options;
    let tag = o.fullTag;
    if (o.tagKey !== undefined) {
      const value = record[o.tagKey];
      if (typeof value === "string" && value.length > 0) tag = o.tagPrefix + value;
    }
    try {
      this.#sink.send(tag, record, timeMs);
    } catch {
      this.#invalid++;
      this.#post("drop", { count: 1, reason: "invalid" });
    }
  }

  /** Resolves once everything sent so far is delivered, or at `closeTimeoutMs`. */
  flush(): Promise<void> {
    return withDeadline(this.#sink.flush(), this.#options.closeTimeoutMs);
  }

  /** Delivers what is left within `timeoutMs` (default `closeTimeoutMs`), then closes; says on stderr what was lost. */
  close(timeoutMs = this.#options.closeTimeoutMs): Promise<LoggerCloseSummary> {
    return closeSink(this.#sink, this.#name, timeoutMs, this.#invalid);
  }
}
