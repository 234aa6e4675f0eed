import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig, type SidecarConfig } from "../../src/cli/config/load.js";
import { CliUsageError } from "../../src/cli/errors.js";
import { Logger, StateLog } from "../../src/cli/log.js";
import { cliTempDir } from "../helpers/cli-temp.js";

function config(argv: string[], env: NodeJS.ProcessEnv = {}): SidecarConfig {
  const loaded = loadConfig(argv, env);
  assert.equal(loaded.kind, "run");
  return (loaded as { config: SidecarConfig }).config;
}

test("--http is off by default and takes HOST:PORT from a flag, the environment or the config file", (t) => {
  assert.equal(config([]).http, undefined);
  assert.equal(config([]).logFormat, "text");
  assert.deepEqual(config(["--http", "127.0.0.1:9191"]).http, { host: "127.0.0.1", port: 9191 });
  assert.deepEqual(config(["--http=[::1]:0"]).http, { host: "::1", port: 0 });
  assert.deepEqual(config([], { UWSGI_FORWARD_HTTP: "0.0.0.0:9191" }).http, { host: "0.0.0.0", port: 9191 });
  const file = join(cliTempDir(t), "c.yaml");
  writeFileSync(file, "http: 127.0.0.1:9100\nlog-format: json\n");
  const fromFile = config(["--config", file]);
  assert.deepEqual([fromFile.http, fromFile.logFormat], [{ host: "127.0.0.1", port: 9100 }, "json"]);
  assert.equal(config(["--config", file, "--log-format", "text"]).logFormat, "text", "the flag wins");
  assert.equal(config([], { UWSGI_FORWARD_LOG_FORMAT: "json" }).logFormat, "json");
});

test("a wrong --http or --log-format is one line naming where it was given and what it accepts", () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      ["--http", "9191"],
      {},
      /^--http: expected HOST:PORT with a port from 0 to 65535, e\.g\. .*, got "9191"$/,
    ],
    [["--http", ":9191"], {}, /^--http: expected HOST:PORT/],
    [["--http", "localhost:70000"], {}, /^--http: expected HOST:PORT/],
    [[], { UWSGI_FORWARD_HTTP: "::1:9191" }, /^UWSGI_FORWARD_HTTP \(--http\): expected HOST:PORT/],
    [["--log-format", "logfmt"], {}, /^--log-format: expected one of text, json, got "logfmt"$/],
  ];
  for (const [argv, env, message] of cases) {
    assert.throws(
      () => loadConfig(argv, env),
      (err: unknown) => err instanceof CliUsageError && message.test(err.message),
      `${argv.join(" ")} ${JSON.stringify(env)}`,
    );
  }
});

test("--log-format json writes one object per line: level, time, message, then code, target, server when given", () => {
  const lines: string[] = [];
  const logger = new Logger("info", { write: (line: string) => lines.push(line) }, () => new Date(0), "json");
  const states = new StateLog(logger);
  logger.info("plain");
  states.change("t", "down", "warn", "target /a.sock failing: X", {
    code: "UWSGI_STATS_REFUSED",
    target: "/a.sock",
  });
  logger.error('quote " and\nnewline', { server: "10.0.0.1:24224" });
  logger.setFormat("text");
  logger.warn("back to text", { code: "C" });
  assert.deepEqual(lines, [
    '{"level":"info","time":"1970-01-01T00:00:00.000Z","message":"plain"}\n',
    '{"level":"warn","time":"1970-01-01T00:00:00.000Z","message":"target /a.sock failing: X","code":"UWSGI_STATS_REFUSED","target":"/a.sock"}\n',
    '{"level":"error","time":"1970-01-01T00:00:00.000Z","message":"quote \\" and\\nnewline","server":"10.0.0.1:24224"}\n',
    "1970-01-01T00:00:00.000Z warn back to text\n",
  ]);
});
