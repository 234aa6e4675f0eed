/**
 * `uwsgi-forward/pino`: a pino transport that runs a ForwardSink in pino's worker thread.
 * `pino(pino.transport({ target: "uwsgi-forward/pino", options: { host, port, tag, … } }))`.
 */
import build from "pino-abstract-transport";
import { LogSink } from "./log-sink.js";
import { resolveLoggerOptions, type LoggerTransportOptions } from "./options.js";
import { EXIT_CLOSE_TIMEOUT_MS, postToMainThread } from "./worker-thread.js";

export type { LoggerTransportOptions as PinoTransportOptions } from "./options.js";
export type { LoggerDropInfo, LoggerServerError, LoggerTransportEvents } from "./log-sink.js";

interface PinoLevels {
  labels: Record<number, string>;
}

/**
 * The transport's entry point, called by pino in its worker. Validates the options first (an `INVALID_OPTION`
 * error naming the option fails the transport at start); `time` (epoch ms) becomes the event time and leaves
 * the record; with `levelAs: "label"` the level number becomes its label (custom levels included).
 */
export default async function pinoTransport(options: LoggerTransportOptions = {}) {
  // Added by pino and thread-stream to every target's options.
  const {
    $context: _context,
    pinoWillSendConfig: _config,
    ...own
  } = (options ?? {}) as Record<string, unknown>;
  const resolved = resolveLoggerOptions(own, {
    tag: "pino",
    levelAs: "number",
    maxCloseTimeoutMs: EXIT_CLOSE_TIMEOUT_MS,
  });
  const sink = new LogSink("uwsgi-forward/pino", resolved, postToMainThread);
  const labels = resolved.levelAs === "label";
  const stream = await build(
    (source) => {
      const levels = (source as unknown as { levels?: PinoLevels }).levels?.labels ?? {};
      source.on("data", (record: Record<string, unknown>) => {
        let time: number | undefined;
        if (typeof record.time === "number") {
          time = record.time;
          delete record.time;
        }
        if (labels && typeof record.level === "number") record.level = levels[record.level] ?? record.level;
        sink.send(record, time);
      });
    },
    {
      expectPinoConfig: true,
      close: async () => {
        await sink.close();
      },
    },
  );
  // `logger.flush(cb)`: thread-stream calls the destination's flush and waits for it.
  return Object.assign(stream, { flush: () => sink.flush() });
}
