/**
 * The worker of `uwsgi-forward/winston`, run by thread-stream as pino runs its transports: reads the events the main
 * thread's ForwardTransport writes and sends them with a LogSink.
 */
import { EventEmitter } from "node:events";
import { LogSink } from "./log-sink.js";
import { resolveLoggerOptions, type LoggerDefaults } from "./options.js";
import { EventReader, type EventHandler } from "./winston-wire.js";
import { EXIT_CLOSE_TIMEOUT_MS, postEvent, postToMainThread } from "./worker-thread.js";

/** What ForwardTransport gives its worker (structured-cloned: plain data only). */
export interface WinstonWorkerData {
  /** The transport's options less winston's own. */
  options: Record<string, unknown>;
  defaults: LoggerDefaults;
}

/**
 * thread-stream's destination: `write` takes its text, `end` (thread-stream ends the worker at exit) closes the sink
 * within the exit's deadline, and `close` tells thread-stream that the worker is done. The close mark (`logger.end()`,
 * `logger.close()`) closes the sink within `closeTimeoutMs` and ends the worker the same way.
 */
class WinstonDestination extends EventEmitter implements EventHandler {
  readonly #sink: LogSink;
  readonly #reader = new EventReader();
  readonly #exitTimeoutMs: number;
  #closing = false;

  constructor(sink: LogSink, closeTimeoutMs: number) {
    super();
    this.#sink = sink;
    this.#exitTimeoutMs = Math.min(closeTimeoutMs, EXIT_CLOSE_TIMEOUT_MS);
  }

  write(chunk: string): boolean {
    try {
      this.#reader.read(chunk, this);
    } catch (err) {
      this.emit("error", err);
    }
    return true;
  }

  end(): void {
    this.#close(this.#exitTimeoutMs);
  }

  event(record: Record<string, unknown>, timeMs: number): void {
    if (!this.#closing) this.#sink.send(record, timeMs);
  }

  close(): void {
    this.#close(undefined);
  }

  #close(timeoutMs: number | undefined): void {
    if (this.#closing) return;
    this.#closing = true;
    void this.#sink.close(timeoutMs).then((summary) => {
      postEvent("closed", summary);
      this.emit("close");
    });
  }
}

/** thread-stream's entry point: the sink, from the options the main thread validated already. */
export default function winstonWorker(data: WinstonWorkerData): EventEmitter {
  const options = resolveLoggerOptions(data.options, data.defaults);
  const sink = new LogSink("uwsgi-forward/winston", options, postToMainThread);
  return new WinstonDestination(sink, options.closeTimeoutMs);
}
