/**
 * A producer for the kill tests, run as its own process: a ForwardSink with `bufferPath` sending sequence-numbered
 * events (`{ seq }`, tag `kill.test`) with acks, in chunks of 50 every 5 ms; after each chunk it prints `sent <last seq>
 * <frames in flight>` (every send() up to that seq has returned). Argument: JSON `{ port, dir, durability, start,
 * count }`; `count: 0` sends nothing: it replays the directory, flushes, closes and exits 0.
 */
import { setTimeout as pause } from "node:timers/promises";
import { ForwardSink } from "../../src/index.js";

const job = JSON.parse(process.argv[2]!) as {
  port: number;
  dir: string;
  durability: "frame" | "event";
  start: number;
  count: number;
};
const sink = new ForwardSink({
  port: job.port,
  requireAck: true,
  bufferPath: job.dir,
  durability: job.durability,
  batch: { maxEvents: 100, maxDelayMs: 20 },
  reconnect: { minDelayMs: 50, maxDelayMs: 200 },
  ackTimeoutMs: 2000,
});
sink.on("serverError", () => {});
if (job.count === 0) {
  await sink.flush();
  const report = await sink.close({ timeoutMs: 1000 });
  process.stdout.write(`done ${sink.stats().replayed} ${report.undeliveredEvents}\n`);
} else {
  for (let seq = job.start; seq < job.start + job.count;) {
    const end = Math.min(seq + 50, job.start + job.count);
    for (; seq < end; seq++) sink.send("kill.test", { seq });
    const inFlight = sink.stats().servers[0]!.inFlightFrames;
    process.stdout.write(`sent ${seq - 1} ${inFlight}\n`);
    await pause(5); // about 10,000 events a second, for as long as the test needs
  }
  await sink.flush();
  process.stdout.write("flushed\n");
  await new Promise(() => {}); // waits for its kill
}
