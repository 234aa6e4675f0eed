import { parentPort } from "node:worker_threads";
import type { EventPost } from "./log-sink.js";

/**
 * thread-stream waits 10 s for a worker to end at exit (then kills it): a sink's close at exit must end first, so
 * its deadline is at most this.
 */
export const EXIT_CLOSE_TIMEOUT_MS = 9000;

/**
 * Sends an event to the main thread from a thread-stream worker (pino's, the winston transport's): thread-stream
 * re-emits it on its stream there (`stream.on(name, …)`). The payload is structured-cloned: plain data only.
 */
export function postEvent(name: string, payload: unknown): void {
  parentPort?.postMessage({ code: "EVENT", name, args: [payload] });
}

/** A LogSink's `drop` and `serverError`, from a thread-stream worker to its stream in the main thread. */
export const postToMainThread: EventPost = postEvent;
