// A Node HTTP server that sends its own access log and the stats of the uWSGI apps next to it through
// one ForwardSink: one connection, one buffer, one set of retries for both.
// Run: STATS="/run/uwsgi/*.stats.sock" PORT=8080 FORWARD_PORT=24224 node --import tsx examples/http-app.ts
import { createServer } from "node:http";
// In your project: import { ForwardSink, UwsgiStatsSource } from "uwsgi-forward";
import { ForwardSink, UwsgiStatsSource } from "../src/index.js";

const sink = new ForwardSink({
  host: process.env.FORWARD_HOST ?? "127.0.0.1",
  port: Number(process.env.FORWARD_PORT ?? 24224),
  overflow: "dropOldest", // never block request handling when Fluentd is away
});
sink.on("serverError", (err, server) => console.error(`forward ${server.id}: ${err.code}`));

// The neighbours' stats: piped into the same sink, which stays open when the source ends.
const stats = new UwsgiStatsSource({
  targets: (process.env.STATS ?? "/tmp/stat.sock").split(" "),
  shapes: ["summary"],
  intervalMs: Number(process.env.INTERVAL_MS ?? 1000),
});
stats.on("targetError", (err, target) => console.error(`stats ${target}: ${err.code}`));
stats.pipe(sink, { end: false });

const server = createServer((req, res) => {
  const started = performance.now();
  res.on("finish", () => {
    // send() is synchronous and cheap: it encodes into the current batch.
    sink.send("app.access", {
      method: req.method ?? "",
      path: req.url ?? "",
      status: res.statusCode,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      bytes: Number(res.getHeader("content-length") ?? 0),
    });
  });
  res.setHeader("content-length", 6);
  res.end("hello\n");
});
server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : ""}`);
});

process.once("SIGTERM", async () => {
  server.close();
  server.closeAllConnections();
  await stats.stop();
  const report = await sink.close({ timeoutMs: 5000 });
  console.log(report.delivered ? "all delivered" : `${report.undeliveredEvents} events undelivered`);
});
