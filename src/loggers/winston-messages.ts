import type { LoggerTransportEvents } from "./log-sink.js";
import type { LoggerDefaults } from "./options.js";
import type { LoggerCloseSummary } from "./shutdown.js";

/** What the winston worker starts with. */
export interface WorkerData {
  /** The transport's options less winston's own (structured-cloned: no functions). */
  options: Record<string, unknown>;
  defaults: LoggerDefaults;
  /** One Int32 the worker sets to 1 once its sink is closed (the main thread may wait on it at exit). */
  done: SharedArrayBuffer;
}

/** Main thread → worker: a batch of records (JSON, with their epoch-ms times), or the close. */
export type ToWorker = { type: "events"; lines: string[]; times: number[] } | { type: "close" };

/** Worker → main thread: a sink event to re-emit, or the close summary. */
export type FromWorker =
  | {
      [E in keyof LoggerTransportEvents]: {
        type: "event";
        name: E;
        payload: Parameters<LoggerTransportEvents[E]>[0];
      };
    }[keyof LoggerTransportEvents]
  | { type: "closed"; summary: LoggerCloseSummary };
