import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { runNorikra } from "../../src/cli/norikra/command.js";
import { NorikraErrorCode } from "../../src/cli/norikra/errors.js";
import { QueriesSyntaxError, splitQueries } from "../../src/cli/norikra/queries-file.js";
import { NorikraRpc } from "../../src/cli/norikra/rpc.js";
import { SHIPPED_QUERIES } from "../../src/cli/norikra/shipped-queries.js";
import { targetPlans } from "../../src/cli/norikra/targets.js";
import { RECORD_SCHEMA } from "../../src/index.js";
import { ROOT } from "../helpers/cli-process.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { freePort } from "../helpers/forward-receiver.js";

test("a queries file splits at each ; after a -- name: line, not at a ; inside a comment, a string or an identifier", () => {
  const text = [
    "-- header; with a semicolon",
    "-- name: first",
    "-- counts; per minute",
    "SELECT count(*) AS n -- trailing; comment",
    "FROM summary.win:time_batch(1 min) /* block; comment */",
    'WHERE status != \'a;b\' AND `odd;name` = "x;\\"y";',
    "",
    "-- name: second",
    "select 'it''s; fine' as s from worker.win:time_batch(5 sec)",
  ].join("\n");
  assert.deepEqual(splitQueries(text), [
    {
      name: "first",
      line: 2,
      expression:
        'SELECT count(*) AS n\nFROM summary.win:time_batch(1 min)\nWHERE status != \'a;b\' AND `odd;name` = "x;\\"y"',
    },
    { name: "second", line: 8, expression: "select 'it''s; fine' as s from worker.win:time_batch(5 sec)" },
  ]);
});

test("a queries file with a statement before any -- name: line, a name used twice or an unended string is refused with its line", () => {
  assert.throws(
    () => splitQueries("-- a comment\nSELECT 1 FROM summary;"),
    (err: unknown) => {
      assert.ok(err instanceof QueriesSyntaxError);
      assert.equal(err.line, 2);
      assert.match(err.message, /without a "-- name: NAME"/);
      return true;
    },
  );
  assert.throws(
    () => splitQueries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;"),
    /line 3: .*used twice \(first on line 1\)/,
  );
  assert.throws(() => splitQueries("-- name: a\nSELECT 'x;\n"), /line 2: a '…' that never ends/);
  assert.throws(() => splitQueries("-- name: a\n-- name: b\nSELECT 1;"), /line 1: query a has no statement/);
  assert.throws(() => splitQueries("-- name: bad-name\nSELECT 1;"), /line 1: query name "bad-name"/);
});

test("the shipped queries are examples/norikra/queries.sql, split into six named statements on summary and worker only", () => {
  assert.equal(
    SHIPPED_QUERIES,
    readFileSync(join(ROOT, "examples/norikra/queries.sql"), "utf8"),
    "run node scripts/shipped-queries.mjs after editing examples/norikra/queries.sql",
  );
  const queries = splitQueries(SHIPPED_QUERIES);
  assert.equal(queries.length, 10);
  const naive = SHIPPED_QUERIES.split(";").filter((s) => s.replace(/--.*$/gm, "").trim() !== "");
  assert.equal(naive.length, queries.length, "a naive split on ; gives the same statements");
  for (const { expression } of queries) {
    assert.match(expression, /GROUP BY host, target\b/);
    assert.match(expression, /FROM (summary|worker|app|cache|spooler|metric)\.win:time_batch\(1 min\)/);
  }
});

test("every field a shipped query names is declared in the schema of its target's shape", () => {
  const words = /[A-Za-z_][A-Za-z0-9_]*/g;
  const keywords = new Set(
    "select from group by as where and or not having sum avg max min count win time_batch min sec like".split(
      " ",
    ),
  );
  for (const { name, expression } of splitQueries(SHIPPED_QUERIES)) {
    const target = /FROM (\w+)\.win/.exec(expression)?.[1] as
      "summary" | "worker" | "app" | "cache" | "spooler" | "metric";
    const aliases = new Set([...expression.matchAll(/\bAS\s+(\w+)/gi)].map((m) => m[1]));
    for (const [word] of expression
      .replace(/'[^']*'/g, " ")
      .replace(/\d+(\.\d+)?/g, " ")
      .matchAll(words)) {
      if (keywords.has(word.toLowerCase()) || aliases.has(word) || word === target) continue;
      assert.ok(RECORD_SCHEMA[target].typeOf(word), `${name}: ${word} is a field of ${target}`);
      assert.ok(!aliases.has(word), `${name}: an alias never repeats a field name`);
    }
  }
});

test("the Norikra targets are the plugin's names for our tags, opened with target, host and repaired, every other field reserved", () => {
  const plans = targetPlans("");
  assert.deepEqual(
    plans.map((p) => p.name),
    ["stats", "summary", "worker", "flat", "emperor", "socket", "app", "core", "cache", "spooler", "metric"],
  );
  const summary = plans.find((p) => p.name === "summary");
  assert.deepEqual(summary?.base, { target: "string", host: "string", repaired: "boolean" });
  assert.equal(summary?.optional.requests_per_sec, "float");
  assert.equal(summary?.optional.requests, "integer");
  assert.equal(summary?.optional["socket_<i>_queue"], undefined, "families are typed from their values");
  assert.deepEqual(
    targetPlans("uwsgi_").map((p) => p.name),
    [
      "uwsgi_stats",
      "uwsgi_summary",
      "uwsgi_worker",
      "uwsgi_flat",
      "uwsgi_emperor",
      "uwsgi_socket",
      "uwsgi_app",
      "uwsgi_core",
      "uwsgi_cache",
      "uwsgi_spooler",
      "uwsgi_metric",
    ],
  );
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function norikra(argv: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runNorikra(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stopped: new Promise(() => {}),
  });
  return { code, stdout, stderr };
}

test("norikra: wrong flags exit 2 with one line naming the flag", async () => {
  for (const [argv, message] of [
    [[], /--norikra HOST:PORT is required/],
    [["--norikra", "localhost"], /--norikra: "localhost" is not HOST:PORT/],
    [["--norikra", "h:1", "--bogus"], /Unknown option '--bogus'/],
    [["--norikra", "h:1", "--timeout", "soon"], /--timeout: "soon" is not a duration/],
    [["--norikra", "h:1", "--watch-interval", "1s"], /--watch-interval needs --watch/],
    [["--norikra", "h:1", "--target-prefix", "9x"], /--target-prefix: "9x" must match/],
    [["--norikra", "h:1", "--queries", "/nonexistent/q.sql"], /\/nonexistent\/q.sql: cannot read it/],
  ] as const) {
    const run = await norikra([...argv]);
    assert.equal(run.code, 2, argv.join(" "));
    assert.match(run.stderr, message);
    assert.equal(run.stderr.trim().split("\n").length, 1);
  }
  const help = await norikra(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: uwsgi-forward norikra --norikra HOST:PORT/);
});

test("norikra: a queries file that cannot be split exits 2 naming the file and line", async (t) => {
  const file = join(cliTempDir(t), "q.sql");
  writeFileSync(file, "-- name: ok\nSELECT 1 FROM summary;\nSELECT 2 FROM summary;\n");
  const run = await norikra(["--norikra", "127.0.0.1:1", "--queries", file]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, new RegExp(`${file}: line 3: a statement without a "-- name: NAME"`));
});

test("norikra: nothing listening exits 1 with NORIKRA_UNREACHABLE's message", async () => {
  const port = await freePort();
  const run = await norikra(["--norikra", `127.0.0.1:${port}`]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(`error Norikra at 127.0.0.1:${port} is unreachable \\(ECONNREFUSED\\)`),
  );
  await assert.rejects(new NorikraRpc("127.0.0.1", port).targets(), { code: NorikraErrorCode.UNREACHABLE });
});

test("norikra: a server that is not Norikra's RPC (an HTML 404, a silent one) is a protocol or unreachable error, not a hang", async (t) => {
  const html = createServer((_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<html>"));
  const silent = createServer(() => {});
  for (const server of [html, silent]) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
  }
  const port = (s: typeof html) => (s.address() as { port: number }).port;
  await assert.rejects(new NorikraRpc("127.0.0.1", port(html)).targets(), {
    code: NorikraErrorCode.PROTOCOL,
    message: new RegExp(
      `127.0.0.1:${port(html)} does not answer like Norikra's RPC port \\(HTTP 404 to targets\\)`,
    ),
  });
  await assert.rejects(new NorikraRpc("127.0.0.1", port(silent), { timeoutMs: 200 }).targets(), {
    code: NorikraErrorCode.UNREACHABLE,
    message: /no complete answer to targets within 200 ms/,
  });
  silent.closeAllConnections();
});
