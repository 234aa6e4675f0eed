import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import path from "node:path";
import { UwsgiStatsError } from "../../src/uwsgi/errors.js";
import { readStats } from "../../src/uwsgi/read.js";
import { UwsgiStatsSource, type PollSummary } from "../../src/uwsgi/source.js";
import { GOOD_DOC } from "../helpers/hostile-documents.js";
import { fakeStatsServer, serveOnce } from "../helpers/uwsgi-fake-servers.js";
import { cliTempDir } from "../helpers/cli-temp.js";

/** Runs `fn` with the process's uncaughtException listeners replaced by one that collects the errors. */
async function collectUncaught(fn: () => Promise<void>): Promise<unknown[]> {
  const saved = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  const caught: unknown[] = [];
  process.on("uncaughtException", (err) => caught.push(err));
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.removeAllListeners("uncaughtException");
    for (const listener of saved) process.on("uncaughtException", listener);
  }
  return caught;
}

test("a glob that matches nothing is UWSGI_STATS_NO_TARGETS once, again only after a match comes and goes", async (t) => {
  const dir = cliTempDir(t);
  const pattern = path.join(dir, "*.sock");
  const source = new UwsgiStatsSource({ targets: [pattern] });
  t.after(() => source.stop());
  const events: [string, string][] = [];
  const polls: PollSummary[] = [];
  source.on("targetError", (err, target) => events.push([err.code, target]));
  source.on("poll", (summary) => polls.push(summary));

  const first = await source.poll();
  assert.deepEqual(
    first.map((i) => [i.tag, i.record.code, i.record.target]),
    [["uwsgi.error", "UWSGI_STATS_NO_TARGETS", pattern]],
  );
  assert.deepEqual(await source.poll(), [], "not reported again while nothing changes");
  assert.deepEqual(events, [["UWSGI_STATS_NO_TARGETS", pattern]]);
  assert.deepEqual(
    polls.map((p) => [p.targets, p.failed]),
    [
      [0, 1],
      [0, 1],
    ],
  );

  const server = await fakeStatsServer(dir, "app.sock", serveOnce(GOOD_DOC));
  const found = await source.poll();
  assert.deepEqual(
    found.map((i) => i.tag),
    ["uwsgi.stats"],
  );
  await server.close(); // removes the socket file
  const gone = await source.poll();
  assert.deepEqual(
    gone.map((i) => i.record.code),
    ["UWSGI_STATS_NO_TARGETS"],
  );
  assert.equal(events.length, 2);
});

test("an explicit target that is missing is NOT_FOUND, not NO_TARGETS", async (t) => {
  const dir = cliTempDir(t);
  const source = new UwsgiStatsSource({ targets: [path.join(dir, "a.sock")] });
  const items = await source.poll();
  await source.stop();
  assert.deepEqual(
    items.map((i) => i.record.code),
    ["UWSGI_STATS_NOT_FOUND"],
  );
});

test("a listener that throws loses none of the poll's items; its exception is re-thrown on the next tick", async (t) => {
  const dir = cliTempDir(t);
  const a = await fakeStatsServer(dir, "a.sock", serveOnce(GOOD_DOC));
  const b = await fakeStatsServer(dir, "b.sock", serveOnce(GOOD_DOC));
  t.after(() => a.close());
  t.after(() => b.close());
  const source = new UwsgiStatsSource({
    targets: [a.path, b.path, path.join(dir, "missing.sock")],
    shapes: ["raw", "summary"],
  });
  t.after(() => source.stop());
  const seen: string[] = [];
  source.on("record", (item) => {
    seen.push(item.tag);
    throw new Error("record listener bug");
  });
  source.on("targetError", () => {
    throw new Error("targetError listener bug");
  });
  source.on("poll", () => {
    throw new Error("poll listener bug");
  });
  let items: unknown[] = [];
  const caught = await collectUncaught(async () => {
    items = await source.poll();
  });
  assert.equal(items.length, 5, "raw + summary for two targets, one error record");
  assert.equal(seen.length, 5, "every record event was emitted");
  assert.deepEqual(
    caught.map((err) => (err as Error).message).sort(),
    [...Array(5).fill("record listener bug"), "poll listener bug", "targetError listener bug"].sort(),
  );
});

test("the scheduled stream keeps every item when a record listener throws", async (t) => {
  const dir = cliTempDir(t);
  const a = await fakeStatsServer(dir, "a.sock", serveOnce(GOOD_DOC));
  t.after(() => a.close());
  const source = new UwsgiStatsSource({ targets: [a.path], shapes: ["raw", "summary"], intervalMs: 50 });
  source.on("record", () => {
    throw new Error("bug");
  });
  const tags: string[] = [];
  const caught = await collectUncaught(async () => {
    for await (const item of source) {
      tags.push((item as { tag: string }).tag);
      if (tags.length === 4) break;
    }
  });
  assert.deepEqual(tags, ["uwsgi.stats", "uwsgi.summary", "uwsgi.stats", "uwsgi.summary"]);
  assert.ok(caught.length >= 4);
});

test("stale and targetError both give the error first", async (t) => {
  const dir = cliTempDir(t);
  // A socket file nobody listens on, found by a glob: refused, so reported stale.
  const stalePath = path.join(dir, "gone.sock");
  execFileSync("python3", [
    "-c",
    `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stalePath)})`,
  ]);
  const source = new UwsgiStatsSource({ targets: [path.join(dir, "*.sock")] });
  const order: string[] = [];
  source.on("stale", (err, target) => order.push(`stale ${err.code} ${target}`));
  source.on("targetError", (err, target) => order.push(`targetError ${err.code} ${target}`));
  await source.poll();
  await source.stop();
  assert.deepEqual(order, [
    `stale UWSGI_STATS_REFUSED ${stalePath}`,
    `targetError UWSGI_STATS_REFUSED ${stalePath}`,
  ]);
});

test("a stats-http target on IPv6 gets a bracketed Host header", async (t) => {
  const server = createHttpServer((req, res) => {
    res.end(JSON.stringify({ host: req.headers.host, workers: [] }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "::1", () => resolve());
    });
  } catch {
    t.skip("no IPv6 loopback (::1) on this machine");
    return;
  }
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const reply = await readStats(
    `http://[::1]:${port}/`,
    { kind: "http", host: "::1", port, path: "/" },
    { connectTimeoutMs: 1000, timeoutMs: 2000, maxBytes: 65536 },
  );
  assert.equal((JSON.parse(reply.body.toString()) as { host: string }).host, `[::1]:${port}`);
});

test("an aborted read is UWSGI_STATS_ABORTED, not a timeout", async (t) => {
  const dir = cliTempDir(t);
  const stall = await fakeStatsServer(dir, "stall.sock", () => undefined);
  t.after(() => stall.close());
  const controller = new AbortController();
  const reading = readStats(
    stall.path,
    { kind: "unix", path: stall.path },
    { connectTimeoutMs: 1000, timeoutMs: 10_000, maxBytes: 65536 },
    controller.signal,
  );
  while (stall.connections() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await assert.rejects(
    reading,
    (err: unknown) => err instanceof UwsgiStatsError && err.code === "UWSGI_STATS_ABORTED",
  );
});
