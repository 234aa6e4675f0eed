import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { parseTarget } from "../../src/uwsgi/address.js";
import { GlobPattern, segmentToRegExp } from "../../src/uwsgi/glob.js";
import { escapeKey, TypeRegistry } from "../../src/uwsgi/keys.js";
import { redactVar } from "../../src/uwsgi/redact.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { RECORD_SCHEMA } from "../../src/uwsgi/shapes/schema.js";
import { cliTempDir } from "../helpers/cli-temp.js";

test("targets are parsed from paths, unix://, host:port, tcp:// and http:// forms", () => {
  assert.deepEqual(parseTarget("/run/a.sock"), {
    kind: "address",
    target: "/run/a.sock",
    address: { kind: "unix", path: "/run/a.sock" },
  });
  assert.deepEqual(parseTarget("unix:///run/a.sock"), {
    kind: "address",
    target: "unix:///run/a.sock",
    address: { kind: "unix", path: "/run/a.sock" },
  });
  assert.deepEqual(parseTarget("127.0.0.1:9191"), {
    kind: "address",
    target: "127.0.0.1:9191",
    address: { kind: "tcp", host: "127.0.0.1", port: 9191 },
  });
  assert.deepEqual((parseTarget("tcp://[::1]:9191") as { address: unknown }).address, {
    kind: "tcp",
    host: "::1",
    port: 9191,
  });
  assert.deepEqual((parseTarget("http://localhost:9192/stats") as { address: unknown }).address, {
    kind: "http",
    host: "localhost",
    port: 9192,
    path: "/stats",
  });
  assert.deepEqual(parseTarget("/run/uwsgi/*.stats.sock"), {
    kind: "glob",
    pattern: "/run/uwsgi/*.stats.sock",
    prefix: "",
  });
  assert.ok("error" in parseTarget("localhost"));
  assert.ok("error" in parseTarget("https://x:1"));
  assert.ok("error" in parseTarget("host:99999"));
});

test("glob segments match like a shell: *, ?, classes, no leading dot", () => {
  assert.ok(segmentToRegExp("*.sock").test("app.sock"));
  assert.ok(!segmentToRegExp("*.sock").test(".hidden.sock"));
  assert.ok(segmentToRegExp("app?.sock").test("app1.sock"));
  assert.ok(segmentToRegExp("app[0-9].sock").test("app7.sock"));
  assert.ok(!segmentToRegExp("app[!0-9].sock").test("app7.sock"));
  assert.ok(!segmentToRegExp("a.b").test("axb"));
});

test("a glob expands to the sockets it matches, not to regular files or directories", async (t) => {
  const dir = cliTempDir(t);
  mkdirSync(path.join(dir, "sub"));
  writeFileSync(path.join(dir, "sub", "notes.sock"), "not a socket");
  const server = createServer();
  await new Promise<void>((r) => server.listen(path.join(dir, "sub", "one.sock"), r));
  t.after(() => server.close());
  const found = await new GlobPattern(path.join(dir, "s*", "*.sock")).expand();
  assert.deepEqual(found, [path.join(dir, "sub", "one.sock")]);
  assert.deepEqual(await new GlobPattern(path.join(dir, "missing", "*.sock")).expand(), []);
});

test("keys are rewritten to [A-Za-z0-9_] starting with a letter", () => {
  assert.equal(escapeKey("user 0"), "user_0");
  assert.equal(escapeKey("core.busy_workers"), "core_busy_workers");
  assert.equal(escapeKey("0abc"), "k_0abc");
  assert.equal(escapeKey("plain"), "plain");
});

test("an undeclared field that changes type is left out instead of being sent with the new type", () => {
  const registry = new TypeRegistry();
  const first = { a: 1, b: "x" };
  registry.enforce("t", RECORD_SCHEMA.worker, first);
  const second: Record<string, unknown> = { a: "1", b: "y", c: null };
  assert.equal(registry.enforce("t", RECORD_SCHEMA.worker, second), 2);
  assert.deepEqual(second, { b: "y" });
  assert.equal(registry.dropped, 2);
});

test("the vars deny-list redacts credentials, cookies, tokens and query strings", () => {
  assert.equal(redactVar("HTTP_AUTHORIZATION=Bearer abc"), "HTTP_AUTHORIZATION=[REDACTED]");
  assert.equal(redactVar("HTTP_COOKIE=sid=1"), "HTTP_COOKIE=[REDACTED]");
  assert.equal(redactVar("HTTP_PROXY_AUTHORIZATION=Basic x"), "HTTP_PROXY_AUTHORIZATION=[REDACTED]");
  assert.equal(redactVar("HTTP_X_API_KEY=k"), "HTTP_X_API_KEY=[REDACTED]");
  assert.equal(redactVar("HTTP_X_AUTH_TOKEN=t"), "HTTP_X_AUTH_TOKEN=[REDACTED]");
  assert.equal(redactVar("DB_PASSWORD=p"), "DB_PASSWORD=[REDACTED]");
  assert.equal(redactVar("QUERY_STRING=token=abc"), "QUERY_STRING=[REDACTED]");
  assert.equal(redactVar("QUERY_STRING="), "QUERY_STRING=");
  assert.equal(redactVar("REQUEST_URI=/a?b=c"), "REQUEST_URI=/a?[REDACTED]");
  assert.equal(redactVar("REQUEST_URI=/a"), "REQUEST_URI=/a");
  assert.equal(redactVar("HTTP_USER_AGENT=curl"), "HTTP_USER_AGENT=curl");
  assert.equal(redactVar(""), "");
});

test("wrong options are rejected at construction with what to write instead", () => {
  const message = (options: unknown): string => {
    try {
      new UwsgiStatsSource(options as never);
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  assert.match(message({}), /targets.*non-empty array.*\/run\/uwsgi\/app\.stats\.sock/);
  assert.match(message(undefined), /targets/);
  assert.match(message({ targets: [] }), /non-empty array/);
  assert.match(message({ targets: ["/a.sock"], intervalMs: -5 }), /intervalMs.*integer from 10/);
  assert.match(
    message({ targets: ["/a.sock"], shapes: ["rwa"] }),
    /shapes\[0\].*"raw", "summary", "worker", "flat"/,
  );
  assert.match(message({ targets: ["/a.sock"], vars: "hide" }), /"redact", "keep", "drop"/);
  assert.match(message({ targets: ["/a.sock"], interval: 5 }), /unknown option; known options are: targets/);
  assert.match(message({ targets: ["nohost"] }), /targets\[0\].*host:port/);
  assert.match(
    message({ targets: ["/a.sock"], tags: { stats: "x" } }),
    /tags\.stats.*known options are: raw/,
  );
  assert.equal(message({ targets: ["/a.sock"] }), "accepted");
});

test("defaults: 1 s interval, raw shape, 900 ms timeout, 8 MiB, redacted vars", () => {
  const source = new UwsgiStatsSource({ targets: ["/a.sock"] });
  assert.equal(source.options.intervalMs, 1000);
  assert.deepEqual([...source.options.shapes], ["raw"]);
  assert.equal(source.options.timeoutMs, 900);
  assert.equal(source.options.connectTimeoutMs, 900);
  assert.equal(source.options.maxBytes, 8 * 1024 * 1024);
  assert.equal(source.options.vars, "redact");
  assert.equal(source.options.tags.raw, "uwsgi.stats");
  assert.equal(source.options.tags.error, "uwsgi.error");
});
