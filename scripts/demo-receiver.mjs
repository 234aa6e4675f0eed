// The demo's local forward receiver: a FluentServer (from @fluent-org/logger) that prints every event it
// receives, one short line each, and a count by tag when it gets SIGTERM. Usage: node demo-receiver.mjs PORT_FILE
import { writeFileSync } from "node:fs";
import { FluentServer } from "@fluent-org/logger";

const portFile = process.argv[2];
const server = new FluentServer({ listenOptions: { host: "127.0.0.1", port: 0 } });
const counts = new Map();

const PICK = {
  summary: [
    "target",
    "workers_busy",
    "requests",
    "requests_per_sec",
    "exceptions",
    "listen_queue",
    "response_time_us",
  ],
  worker: ["target", "id", "status", "requests", "requests_per_sec", "rss"],
  health: ["polls", "records", "sent", "acked", "dropped", "buffered_bytes", "targets_failing"],
};

function brief(tag, record) {
  const kind = tag.split(".").pop();
  const keys = PICK[kind];
  const shown = keys
    ? Object.fromEntries(keys.filter((k) => k in record).map((k) => [k, record[k]]))
    : record;
  const text = JSON.stringify(shown);
  return text.length > 240 ? `${text.slice(0, 237)}...` : text;
}

server.on("entry", (tag, time, record) => {
  counts.set(tag, (counts.get(tag) ?? 0) + 1);
  const seconds = typeof time === "number" ? time : (time?.epoch ?? 0) + (time?.nano ?? 0) / 1e9;
  process.stdout.write(`receiver: ${tag} ${new Date(seconds * 1000).toISOString()} ${brief(tag, record)}\n`);
});

await server.listen();
writeFileSync(portFile, String(server.port));
process.stdout.write(`receiver: listening on 127.0.0.1:${server.port}\n`);

process.on("SIGTERM", () => {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const byTag = [...counts].map(([tag, n]) => `${tag}=${n}`).join(" ");
  process.stdout.write(`receiver: received ${total} events${byTag ? `: ${byTag}` : ""}\n`);
  void server.close().finally(() => process.exit(total > 0 ? 0 : 1));
});
