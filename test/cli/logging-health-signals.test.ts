import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { Health } from "../../src/cli/health.js";
import { Logger } from "../../src/cli/logger.js";
import { installSignalHandlers, signalExitCode } from "../../src/cli/signals.js";
import { StateLog } from "../../src/cli/state-log.js";

function capture(level: "error" | "warn" | "info" | "debug"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger(level, { write: (line: string) => lines.push(line) }, () => new Date(0));
  return { logger, lines };
}

test("the logger writes one timestamped line per message at or above its level, and the level can change", () => {
  const { logger, lines } = capture("warn");
  logger.info("hidden");
  logger.warn("shown");
  logger.error("also shown");
  logger.setLevel("debug");
  logger.debug("now shown");
  assert.deepEqual(lines, [
    "1970-01-01T00:00:00.000Z warn shown\n",
    "1970-01-01T00:00:00.000Z error also shown\n",
    "1970-01-01T00:00:00.000Z debug now shown\n",
  ]);
});

test("a state that stays the same is logged once, each change once more", () => {
  const { logger, lines } = capture("info");
  const states = new StateLog(logger);
  for (let poll = 0; poll < 10; poll++) states.change("target /a.sock", "error X", "warn", "a failing");
  states.change("target /a.sock", "ok", "info", "a recovered");
  states.change("target /a.sock", "ok", "info", "a recovered");
  states.change("target /a.sock", "error Y", "warn", "a failing differently");
  assert.deepEqual(
    lines.map((l) => l.slice(25).trim()),
    ["warn a failing", "info a recovered", "warn a failing differently"],
  );
  assert.equal(states.get("target /a.sock"), "error Y");
});

test("the health record counts polls, records and errors per target, and merges the output's figures", () => {
  const health = new Health();
  health.poll();
  health.poll();
  health.record({ target: "/a.sock" });
  health.record({ target: "/b.sock" });
  health.targetError("/b.sock", "UWSGI_STATS_REFUSED");
  health.targetError("/b.sock", "UWSGI_STATS_REFUSED");
  const record = health.build(
    { host: "web-1", env: "prod" },
    { sent: 5, acked: 4, dropped: 0, buffered_bytes: 10, servers: [] },
  );
  assert.deepEqual(Object.keys(record).slice(0, 2), ["host", "env"], "the labels come first");
  assert.equal(record.host, "web-1");
  assert.equal(record.polls, 2);
  assert.equal(record.records, 2);
  assert.equal(record.target_errors, 2);
  assert.equal(record.targets_failing, 1);
  assert.deepEqual(record.targets, [
    { target: "/a.sock", state: "ok", errors: 0, last_error: "" },
    { target: "/b.sock", state: "failing", errors: 2, last_error: "UWSGI_STATS_REFUSED" },
  ]);
  assert.equal(record.sent, 5);
  assert.equal(record.acked, 4);
  health.targetOk("/b.sock");
  assert.equal(health.build({ host: "web-1" }, {}).targets_failing, 0);
  for (const key of Object.keys(record)) assert.match(key, /^[a-z][a-z0-9_]*$/, "Norikra-friendly keys");
});

test("the first SIGTERM or SIGINT stops, the next forces; SIGHUP reloads; handlers can be removed", () => {
  const target = new EventEmitter();
  const calls: string[] = [];
  const uninstall = installSignalHandlers(
    {
      stop: (signal) => calls.push(`stop ${signal}`),
      force: (signal) => calls.push(`force ${signal}`),
      reload: () => calls.push("reload"),
    },
    target as unknown as NodeJS.Process,
  );
  target.emit("SIGHUP");
  target.emit("SIGTERM", "SIGTERM");
  target.emit("SIGHUP");
  target.emit("SIGINT", "SIGINT");
  assert.deepEqual(calls, ["reload", "stop SIGTERM", "reload", "force SIGINT"]);
  uninstall();
  assert.equal(
    target.listenerCount("SIGTERM") + target.listenerCount("SIGINT") + target.listenerCount("SIGHUP"),
    0,
  );
  assert.equal(signalExitCode("SIGTERM"), 143);
  assert.equal(signalExitCode("SIGINT"), 130);
});
