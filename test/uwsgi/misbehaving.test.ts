import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { unlinkSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { hostname } from "node:os";
import path from "node:path";
import type { ForwardItem } from "../../src/item.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import type { UwsgiStatsError } from "../../src/uwsgi/errors.js";
import { fakeStatsServer, serveOnce } from "../helpers/uwsgi-fake-servers.js";

import { uwsgiSample } from "../helpers/uwsgi-samples.js";
import { cliTempDir } from "../helpers/cli-temp.js";

const SAMPLE = uwsgiSample("seed-idle.json");

function errorsOf(items: ForwardItem[]): Record<string, unknown>[] {
  return items.filter((i) => i.tag === "uwsgi.error").map((i) => i.record);
}

async function pollOne(target: string, extra: Record<string, unknown> = {}) {
  const source = new UwsgiStatsSource({ targets: [target], timeoutMs: 3000, ...extra });
  const events: UwsgiStatsError[] = [];
  source.on("targetError", (err: UwsgiStatsError) => events.push(err));
  const items = await source.poll();
  await source.stop();
  return { items, events, errors: errorsOf(items) };
}

test("garbage yields an INVALID_JSON error record with an excerpt, and a targetError event", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "garbage.sock", serveOnce("<html>not stats</html>"));
  t.after(() => server.close());
  const { items, events, errors } = await pollOne(server.path);
  assert.equal(items.length, 1);
  assert.deepEqual(errors[0], {
    host: hostname(),
    target: server.path,
    code: "UWSGI_STATS_INVALID_JSON",
    message: `${server.path} sent something that is not JSON`,
    excerpt: "<html>not stats</html>",
    bytes: 22,
    stale: false,
  });
  assert.equal(events[0]?.code, "UWSGI_STATS_INVALID_JSON");
  assert.equal(events[0]?.target, server.path);
});

test("a truncated document yields UWSGI_STATS_TRUNCATED", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "cut.sock", serveOnce(SAMPLE.subarray(0, 700)));
  t.after(() => server.close());
  const { errors } = await pollOne(server.path);
  assert.equal(errors[0]?.code, "UWSGI_STATS_TRUNCATED");
  assert.equal(errors[0]?.bytes, 700);
});

test("a server that closes without a byte yields UWSGI_STATS_CLOSED_EARLY", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "empty.sock", (s) => s.end());
  t.after(() => server.close());
  const { errors } = await pollOne(server.path);
  assert.equal(errors[0]?.code, "UWSGI_STATS_CLOSED_EARLY");
});

test("a stalled server times out, its socket destroyed, and the other targets are still delivered", async (t) => {
  const dir = cliTempDir(t);
  const closed: Promise<unknown>[] = [];
  const stall = await fakeStatsServer(dir, "stall.sock", (s) => closed.push(once(s, "close")));
  const good = await fakeStatsServer(dir, "good.sock", serveOnce(SAMPLE));
  t.after(() => stall.close());
  t.after(() => good.close());
  const source = new UwsgiStatsSource({ targets: [stall.path, good.path], timeoutMs: 1000 });
  const items = await source.poll();
  await source.stop();
  assert.equal(errorsOf(items)[0]?.code, "UWSGI_STATS_TIMEOUT");
  assert.equal(errorsOf(items)[0]?.target, stall.path);
  assert.ok(items.some((i) => i.tag === "uwsgi.stats" && i.record.target === good.path));
  await Promise.all(closed);
});

test("a connection that sends a document but never closes times out with what arrived in the excerpt", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "open.sock", (s) => s.write(SAMPLE));
  t.after(() => server.close());
  const { errors } = await pollOne(server.path, { timeoutMs: 200 });
  assert.equal(errors[0]?.code, "UWSGI_STATS_TIMEOUT");
  assert.equal(errors[0]?.bytes, SAMPLE.length);
  assert.match(String(errors[0]?.excerpt), /^\{\n\t"version":"2\.0\.21-debian"/);
});

test("a 100 MiB answer is cut off at maxBytes and the connection dropped", async (t) => {
  const dir = cliTempDir(t);
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const server = await fakeStatsServer(dir, "huge.sock", (s: Socket) => {
    s.write("{");
    const pump = (): void => {
      while (written < 100 * 1024 * 1024 && !s.destroyed) {
        written += chunk.length;
        if (!s.write(chunk)) {
          s.once("drain", pump);
          return;
        }
      }
      s.end("}");
    };
    pump();
  });
  t.after(() => server.close());
  const { errors } = await pollOne(server.path, { maxBytes: 1024 * 1024, timeoutMs: 10_000 });
  assert.equal(errors[0]?.code, "UWSGI_STATS_TOO_LARGE");
  assert.ok((errors[0]?.bytes as number) <= 1024 * 1024 + chunk.length + 1);
  assert.ok(written < 100 * 1024 * 1024, `the server was stopped early (wrote ${written} bytes)`);
});

test("an HTTP 500 from a stats-http target yields UWSGI_STATS_HTTP_STATUS with the body as excerpt", async (t) => {
  const server = createServer((s) => {
    s.once("data", () => s.end("HTTP/1.0 500 Internal Server Error\r\nConnection: close\r\n\r\nboom"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const { errors } = await pollOne(`http://127.0.0.1:${port}`);
  assert.equal(errors[0]?.code, "UWSGI_STATS_HTTP_STATUS");
  assert.equal(errors[0]?.excerpt, "boom");
  assert.match(String(errors[0]?.message), /HTTP 500/);
});

test("a stats-http target gets its request at once and its body is read without Content-Length", async (t) => {
  let request = "";
  const server = createServer((s) => {
    s.once("data", (d: Buffer) => {
      request = d.toString();
      s.end(
        Buffer.concat([Buffer.from("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"), SAMPLE]),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const { items } = await pollOne(`http://127.0.0.1:${port}/`);
  assert.match(request, /^GET \/ HTTP\/1\.0\r\n/);
  assert.equal(items[0]?.tag, "uwsgi.stats");
  assert.equal(items[0]?.record.pid, JSON.parse(SAMPLE.toString()).pid);
});

test("a missing socket is NOT_FOUND and a closed port is REFUSED", async (t) => {
  const dir = cliTempDir(t);
  assert.equal((await pollOne(path.join(dir, "none.sock"))).errors[0]?.code, "UWSGI_STATS_NOT_FOUND");
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  assert.equal((await pollOne(`127.0.0.1:${port}`)).errors[0]?.code, "UWSGI_STATS_REFUSED");
});

test("a failing target is reported on every poll and its recovery once", async (t) => {
  const dir = cliTempDir(t);
  const target = path.join(dir, "later.sock");
  const source = new UwsgiStatsSource({ targets: [target], timeoutMs: 3000 });
  const recovered: unknown[] = [];
  source.on("recover", (name: string, info: unknown) => recovered.push([name, info]));
  assert.equal(errorsOf(await source.poll()).length, 1);
  assert.equal(errorsOf(await source.poll()).length, 1);
  const server = await fakeStatsServer(dir, "later.sock", serveOnce(SAMPLE));
  t.after(() => server.close());
  assert.equal((await source.poll())[0]?.tag, "uwsgi.stats");
  await source.poll();
  await source.stop();
  assert.equal(recovered.length, 1);
  const [name, info] = recovered[0] as [string, { failedPolls: number; lastCode: string; wasStale: boolean }];
  assert.equal(name, target);
  assert.equal(info.failedPolls, 2);
  assert.equal(info.lastCode, "UWSGI_STATS_NOT_FOUND");
  assert.equal(info.wasStale, false);
});

test("a glob's socket file that refuses is reported stale once, polled quietly, and its return reported once", async (t) => {
  const dir = cliTempDir(t);
  const stalePath = path.join(dir, "gone.stats.sock");
  // a socket file nobody listens on, as a vassal killed without vacuum leaves behind
  execFileSync("python3", [
    "-c",
    `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stalePath)})`,
  ]);
  const source = new UwsgiStatsSource({ targets: [path.join(dir, "*.stats.sock")], timeoutMs: 3000 });
  const stale: string[] = [];
  const recovered: string[] = [];
  source.on("stale", (_err, name) => stale.push(name));
  source.on("recover", (name: string) => recovered.push(name));
  const first = await source.poll();
  assert.deepEqual(
    errorsOf(first).map((e) => [e.code, e.stale]),
    [["UWSGI_STATS_REFUSED", true]],
  );
  assert.deepEqual(await source.poll(), []);
  assert.deepEqual(await source.poll(), []);
  unlinkSync(stalePath);
  const server = await fakeStatsServer(dir, "gone.stats.sock", serveOnce(SAMPLE));
  t.after(() => server.close());
  assert.equal((await source.poll())[0]?.record.target, stalePath);
  await source.stop();
  assert.deepEqual(stale, [stalePath]);
  assert.deepEqual(recovered, [stalePath]);
});

test("polls never overlap: one target never has two connections at once", async (t) => {
  const dir = cliTempDir(t);
  let open = 0;
  let maxOpen = 0;
  const server = await fakeStatsServer(dir, "slow.sock", (s) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    setTimeout(() => {
      open--;
      s.end(SAMPLE);
    }, 50);
  });
  t.after(() => server.close());
  const source = new UwsgiStatsSource({
    targets: [server.path, server.path, `unix://${server.path}`],
    timeoutMs: 3000,
  });
  const results = await Promise.all([source.poll(), source.poll(), source.poll()]);
  await source.stop();
  assert.equal(maxOpen, 1);
  assert.equal(server.connections(), 3, "the same socket listed three ways is read once per poll");
  for (const items of results) assert.equal(items.length, 1);
});

test("the source is a Readable: started, it streams items to for-await until stopped", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "s.sock", serveOnce(SAMPLE));
  t.after(() => server.close());
  const source = new UwsgiStatsSource({
    targets: [server.path],
    intervalMs: 20,
    timeoutMs: 5000,
    shapes: ["raw", "summary"],
  });
  const polls: unknown[] = [];
  source.on("poll", (p: unknown) => polls.push(p));
  const seen: ForwardItem[] = [];
  for await (const item of source) {
    seen.push(item as ForwardItem);
    if (seen.length === 6) void source.stop();
  }
  assert.ok(seen.length >= 6);
  assert.deepEqual(
    seen.slice(0, 4).map((i) => i.tag),
    ["uwsgi.stats", "uwsgi.summary", "uwsgi.stats", "uwsgi.summary"],
  );
  assert.equal(typeof seen[0]?.time, "number");
  const summaries = seen.filter((i) => i.tag === "uwsgi.summary");
  assert.equal(summaries[1]?.record.requests_per_sec, 0, "rates appear from the second poll on");
  const p = polls[0] as { targets: number; ok: number; failed: number; records: number };
  assert.deepEqual([p.targets, p.ok, p.failed, p.records], [1, 1, 0, 2]);
});

test("the concurrency limit caps how many targets are read at once", async (t) => {
  const dir = cliTempDir(t);
  let open = 0;
  let maxOpen = 0;
  const servers = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      fakeStatsServer(dir, `c${i}.sock`, (s) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        setTimeout(() => {
          open--;
          s.end(SAMPLE);
        }, 30);
      }),
    ),
  );
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const source = new UwsgiStatsSource({
    targets: [path.join(dir, "c*.sock")],
    concurrency: 2,
    timeoutMs: 3000,
  });
  const items = await source.poll();
  await source.stop();
  assert.equal(items.length, 6);
  assert.equal(maxOpen, 2);
});

test("stop() aborts a read in flight at once, destroying its socket, and reports nothing for it", async (t) => {
  const dir = cliTempDir(t);
  let closed: Promise<unknown> | undefined;
  let accepted: () => void = () => undefined;
  const connected = new Promise<void>((r) => (accepted = r));
  const stall = await fakeStatsServer(dir, "stall.sock", (s) => {
    closed = once(s, "close");
    accepted();
  });
  t.after(() => stall.close());
  const source = new UwsgiStatsSource({ targets: [stall.path], timeoutMs: 60_000 });
  const errors: unknown[] = [];
  source.on("targetError", (err: unknown) => errors.push(err));
  const pending = source.poll();
  await connected;
  await source.stop();
  assert.deepEqual(await pending, []);
  await closed;
  assert.deepEqual(errors, []);
});

test("a plain stats server named with http:// yields UWSGI_STATS_HTTP_INVALID", async (t) => {
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.end(SAMPLE);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const { errors } = await pollOne(`http://127.0.0.1:${port}`);
  assert.ok(
    ["UWSGI_STATS_HTTP_INVALID", "UWSGI_STATS_READ_FAILED"].includes(String(errors[0]?.code)),
    String(errors[0]?.code),
  );
});
