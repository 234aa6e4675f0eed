// Memory under an outage, per overflow policy: the server is down (nothing listens on the port) while the app
// calls `send()` at full speed for MEMORY_OUTAGE_S seconds (default 60), ignoring the `false` it returns. Each
// policy runs in its own plain-node process on the built package (dist/, so no TypeScript loader in the figures);
// RSS is sampled every 100 ms. The bound checked: peak RSS − RSS before the sink existed ≤ bufferLimitBytes + 32 MiB.
// The record is one constant object, so the growth is the sink's, not the app's garbage.
//
// The table also gives the size of V8's young generation ("new space") before and after: what V8 grows on its own
// under a high rate of short-lived allocation, apart from what the sink holds.
//
// Usage: `npm run build && node scripts/memory-bound.mjs` (MEMORY_OUTAGE_S, MEMORY_LIMIT_MB change the run).
// Prints a markdown table; exits with code 1 when a policy broke the bound.
import { fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import os from "node:os";
import v8 from "node:v8";
import { setInterval, clearInterval } from "node:timers";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const OUTAGE_S = Number(process.env.MEMORY_OUTAGE_S ?? 60);
const LIMIT = Number(process.env.MEMORY_LIMIT_MB ?? 1) * 1024 * 1024;
const SLACK = 32 * 1024 * 1024;
const MB = 1024 * 1024;
const POLICIES = ["dropOldest", "dropNewest", "block"];

/** A port where nothing listens. */
async function downPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function runPolicy(policy) {
  const { ForwardSink } = await import("../dist/esm/index.js");
  const port = await downPort();
  const baseline = process.memoryUsage.rss();
  const newSpace = () =>
    v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
  const newSpaceBefore = newSpace();
  let peak = baseline;
  let bufferedPeak = 0;
  const sink = new ForwardSink({ port, bufferLimitBytes: LIMIT, overflow: policy });
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    bufferedPeak = Math.max(bufferedPeak, sink.stats().bufferedBytes);
  }, 100);
  sink.on("serverError", () => {});
  const record = { level: "info", msg: "GET /api/v1/items 200 in 12 ms", host: "web-1.example", ms: 12.5 };
  let sends = 0;
  const end = Date.now() + OUTAGE_S * 1000;
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++) sink.send("memory.app", record);
    sends += 1000;
    await yieldToIo();
  }
  clearInterval(sampler);
  const stats = sink.stats();
  const endRss = process.memoryUsage.rss();
  const newSpaceAfter = newSpace();
  await sink.close({ timeoutMs: 0 });
  return {
    policy,
    baseline,
    peak: Math.max(peak, endRss),
    sends,
    stats,
    bufferedPeak,
    newSpaceBefore,
    newSpaceAfter,
  };
}

if (process.argv[2] === "--child") {
  process.send(await runPolicy(process.argv[3]));
} else {
  const results = [];
  for (const policy of POLICIES) {
    const child = fork(fileURLToPath(import.meta.url), ["--child", policy], { execArgv: [] });
    const [result] = await once(child, "message");
    await once(child, "exit");
    results.push(result);
  }
  const mb = (bytes) => (bytes / MB).toFixed(0);
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
  console.log(
    [
      `Server down for ${OUTAGE_S} s, \`bufferLimitBytes\` ${mb(LIMIT)} MiB, one constant ~100-byte record sent in a ` +
        `tight loop (yielding every 1000 sends); ${os.cpus().length} × ${os.cpus()[0]?.model ?? "CPU"}, load average ` +
        `${load}, Node ${process.version}. Bound: peak − before ≤ limit + 32 MiB = ${mb(LIMIT + SLACK)} MiB.`,
      "",
      "| policy | RSS before the sink (MiB) | peak RSS (MiB) | growth (MiB) | within the bound | V8 new space before → after (MiB) | sends/s | accepted | dropped (evicted / overflow) | peak `bufferedBytes` (MiB) |",
      "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
      ...results.map((r) => {
        const growth = r.peak - r.baseline;
        const by = r.stats.droppedBy;
        return (
          `| \`${r.policy}\` | ${mb(r.baseline)} | ${mb(r.peak)} | ${mb(growth)} | ` +
          `${growth <= LIMIT + SLACK ? "yes" : "**no**"} | ${mb(r.newSpaceBefore)} → ${mb(r.newSpaceAfter)} | ` +
          `${(r.sends / OUTAGE_S / 1e6).toFixed(2)} M | ` +
          `${r.stats.accepted.toLocaleString("en-US")} | ${by.evicted.toLocaleString("en-US")} / ` +
          `${by.overflow.toLocaleString("en-US")} | ${mb(r.bufferedPeak)} |`
        );
      }),
    ].join("\n"),
  );
  if (results.some((r) => r.peak - r.baseline > LIMIT + SLACK)) process.exitCode = 1;
}
