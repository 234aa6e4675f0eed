/** The worker thread of `uwsgi-forward/winston`: runs the ForwardSink, fed by the main thread's ForwardTransport. */
import { parentPort, workerData } from "node:worker_threads";
import { LogSink } from "./log-sink.js";
import { resolveLoggerOptions } from "./options.js";
import type { ToWorker, WorkerData } from "./winston-messages.js";

const data = workerData as WorkerData;
const port = parentPort!;
const done = new Int32Array(data.done);
const sink = new LogSink(
  "uwsgi-forward/winston",
  resolveLoggerOptions(data.options, data.defaults),
  (name, payload) => port.postMessage({ type: "event", name, payload }),
);

port.on("message", (message: ToWorker) => {
  if (message.type === "events") {
    const { lines, times } = message;
    for (let i = 0; i < lines.length; i++)
      sink.send(JSON.parse(lines[i]!) as Record<string, unknown>, times[i]);
  } else if (message.type === "close") {
    void sink.close().then((summary) => {
      port.postMessage({ type: "closed", summary });
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
      port.close();
    });
  }
});
