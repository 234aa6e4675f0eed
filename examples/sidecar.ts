// The library as a sidecar, in a dozen lines: a UwsgiStatsSource piped into a ForwardSink, with
// backpressure, stopped cleanly on SIGTERM (the last records are delivered and acknowledged, or, while
// Fluentd is down, given up after closeTimeoutMs and reported).
// Run: STATS=/tmp/stat.sock FORWARD_PORT=24224 node --import tsx examples/sidecar.ts
import { pipeline } from "node:stream/promises";
// In your project: import { ForwardSink, UwsgiStatsSource } from "uwsgi-forward";
import { ForwardSink, UwsgiStatsSource } from "../src/index.js";

const source = new UwsgiStatsSource({
  targets: (process.env.STATS ?? "/tmp/stat.sock").split(" "),
  shapes: ["summary", "worker"],
  intervalMs: Number(process.env.INTERVAL_MS ?? 1000),
});
const sink = new ForwardSink({
  host: process.env.FORWARD_HOST ?? "127.0.0.1",
  port: Number(process.env.FORWARD_PORT ?? 24224),
  requireAck: true,
  closeTimeoutMs: 5000, // end() waits at most this long for Fluentd: under systemd's and Kubernetes' grace period
});

// Recoverable problems are events, not 'error': a Fluentd restart never tears the pipeline down.
source.on("targetError", (err, target) => console.error(`stats ${target}: ${err.code}`));
sink.on("serverError", (err, server) => console.error(`forward ${server.id}: ${err.code}`));

// stop() ends the source; pipeline() then ends the sink, which delivers what it holds within closeTimeoutMs.
process.once("SIGTERM", () => void source.stop());
await pipeline(source, sink);
const report = await sink.close(); // what the ending delivered, and what it gave up
console.log(report.delivered ? "all delivered" : `${report.undeliveredEvents} events undelivered`);
