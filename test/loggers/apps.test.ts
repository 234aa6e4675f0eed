import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { startFluentServer } from "../helpers/forward-fluent.js";
import { appDir, runApp } from "../helpers/logger-apps.js";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

/** An app that logs 10 lines through one of the transports and returns, in ESM or CommonJS. */
const APPS: Record<string, string> = {
  "pino.mjs": `import pino from "pino";
const transport = pino.transport({
  target: "uwsgi-forward/pino",
  options: { port: Number(process.argv[2]), tag: "exit.pino.esm" },
});
const logger = pino(transport);
for (let i = 0; i < 10; i++) logger.info({ id: i }, "line");
console.log("logged");
`,
  "pino.cjs": `const pino = require("pino");
const transport = pino.transport({
  target: "uwsgi-forward/pino",
  options: { port: Number(process.argv[2]), tag: "exit.pino.cjs" },
});
const logger = pino(transport);
for (let i = 0; i < 10; i++) logger.info({ id: i }, "line");
console.log("logged");
`,
  "winston.mjs": `import winston from "winston";
import { ForwardTransport } from "uwsgi-forward/winston";
const logger = winston.createLogger({
  transports: [new ForwardTransport({ port: Number(process.argv[2]), tag: "exit.winston.esm" })],
});
for (let i = 0; i < 10; i++) logger.info("line", { id: i });
console.log("logged");
`,
  "winston.cjs": `const winston = require("winston");
const { ForwardTransport } = require("uwsgi-forward/winston");
const logger = winston.createLogger({
  transports: [new ForwardTransport({ port: Number(process.argv[2]), tag: "exit.winston.cjs" })],
});
for (let i = 0; i < 10; i++) logger.info("line", { id: i });
console.log("logged");
`,
};

for (const [file, source] of Object.entries(APPS)) {
  const [logger, format] = file.split(".") as [string, string];
  const tag = `exit.${logger}.${format === "mjs" ? "esm" : "cjs"}`;
  test(`a ${logger} app (${format === "mjs" ? "ESM" : "CommonJS"}) that logs 10 lines and returns exits by itself within 2 s with all 10 delivered`, async (t) => {
    const peer = await startFluentServer();
    t.after(() => peer.close());
    const dir = appDir(t);
    writeFileSync(path.join(dir, file), source);
    const run = await runApp(dir, file, [String(peer.port)]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.ok(
      run.exitAfterLoggedMs !== undefined && run.exitAfterLoggedMs < 2000,
      `exited ${run.exitAfterLoggedMs} ms after logging`,
    );
    assert.equal(peer.entries.length, 10, "delivered before the exit");
    assert.deepEqual(
      peer.entries.map((e) => [e.tag, e.record.id]),
      Array.from({ length: 10 }, (_, i) => [tag, i]),
    );
  });
}

test("an app whose server never answers exits after closeTimeoutMs and says on stderr what was lost", async (t) => {
  const dir = appDir(t);
  writeFileSync(
    path.join(dir, "down.cjs"),
    `const winston = require("winston");
const { ForwardTransport } = require("uwsgi-forward/winston");
const logger = winston.createLogger({ transports: [new ForwardTransport({ port: 1, closeTimeoutMs: 300 })] });
for (let i = 0; i < 10; i++) logger.info("line", { id: i });
console.log("logged");
`,
  );
  const run = await runApp(dir, "down.cjs");
  assert.equal(run.code, 0);
  assert.match(
    run.stderr,
    /^uwsgi-forward\/winston: 10 log events undelivered at close \(not delivered within closeTimeoutMs 300\); 10 dropped in all/m,
  );
});

test("a winston app that calls process.exit() right after logging still delivers its lines (the tick's batch included)", async (t) => {
  const peer = await startFluentServer();
  t.after(() => peer.close());
  const dir = appDir(t);
  writeFileSync(
    path.join(dir, "exit.mjs"),
    `import winston from "winston";
import { ForwardTransport } from "uwsgi-forward/winston";
const logger = winston.createLogger({
  transports: [new ForwardTransport({ port: Number(process.argv[2]), tag: "exit.now" })],
});
await new Promise((resolve) => setTimeout(resolve, 200));
for (let i = 0; i < 10; i++) logger.info("line", { id: i, bytes: Buffer.from([i]) });
console.log("logged");
process.exit(0);
`,
  );
  const run = await runApp(dir, "exit.mjs", [String(peer.port)]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  assert.deepEqual(
    peer.entries.map((e) => [e.tag, e.record.id, [...(e.record.bytes as Buffer)]]),
    Array.from({ length: 10 }, (_, i) => ["exit.now", i, [i]]),
  );
});

test("at exit a winston close gets at most 9 s whatever closeTimeoutMs says (thread-stream waits 10 s for its worker)", async (t) => {
  const dir = appDir(t);
  writeFileSync(
    path.join(dir, "slow.cjs"),
    `const winston = require("winston");
const { ForwardTransport } = require("uwsgi-forward/winston");
const logger = winston.createLogger({ transports: [new ForwardTransport({ port: 1, closeTimeoutMs: 60000 })] });
for (let i = 0; i < 10; i++) logger.info("line", { id: i });
console.log("logged");
`,
  );
  const run = await runApp(dir, "slow.cjs");
  assert.equal(run.code, 0, run.stderr);
  assert.ok(
    run.exitAfterLoggedMs !== undefined && run.exitAfterLoggedMs < 10_000,
    `exited ${run.exitAfterLoggedMs} ms after logging`,
  );
  assert.match(
    run.stderr,
    /^uwsgi-forward\/winston: 10 log events undelivered at close \(not delivered within closeTimeoutMs 9000\)/m,
  );
});

test("importing uwsgi-forward, from ESM or CommonJS, loads neither pino nor winston", (t) => {
  const dir = appDir(t);
  const loaded = `Object.keys(require.cache).filter((f) => /node_modules\\/(pino|winston|pino-abstract-transport|winston-transport)\\//.test(f))`;
  writeFileSync(
    path.join(dir, "plain.cjs"),
    `const { ForwardSink } = require("uwsgi-forward");
console.log(typeof ForwardSink, JSON.stringify(${loaded}));`,
  );
  // pino and winston are CommonJS: imported from ESM they would land in require.cache too.
  writeFileSync(
    path.join(dir, "plain.mjs"),
    `import { ForwardSink } from "uwsgi-forward";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
console.log(typeof ForwardSink, JSON.stringify(${loaded}));`,
  );
  writeFileSync(
    path.join(dir, "control.cjs"),
    `require("uwsgi-forward/winston");
console.log(JSON.stringify(${loaded}).includes("winston-transport"));`,
  );
  const node = (file: string): string =>
    execFileSync(process.execPath, [file], { cwd: dir, encoding: "utf8" }).trim();
  assert.equal(node("plain.cjs"), "function []");
  assert.equal(node("plain.mjs"), "function []");
  assert.equal(node("control.cjs"), "true", "the check sees a loaded winston-transport");
});

test("the ./pino and ./winston subpaths carry types for ESM and CommonJS", (t) => {
  const dir = appDir(t);
  writeFileSync(
    path.join(dir, "types.mts"),
    `import { ForwardTransport, type ForwardTransportOptions } from "uwsgi-forward/winston";
import pinoTransport, { type PinoTransportOptions } from "uwsgi-forward/pino";
const options: ForwardTransportOptions = { port: 24224, tag: "a", levelAs: "number", level: "info" };
const pinoOptions: PinoTransportOptions = { servers: [{ port: 24224 }], tagKey: "svc" };
export const made: [ForwardTransport, typeof pinoTransport, PinoTransportOptions] = [new ForwardTransport(options), pinoTransport, pinoOptions];`,
  );
  writeFileSync(
    path.join(dir, "types.cts"),
    `import { ForwardTransport } from "uwsgi-forward/winston";
import type { PinoTransportOptions } from "uwsgi-forward/pino";
export const options: PinoTransportOptions = { tag: "b", closeTimeoutMs: 1000 };
export const transport: ForwardTransport = new ForwardTransport({ tag: "b" });`,
  );
  const args = [
    "--noEmit",
    "--strict",
    "--module",
    "nodenext",
    "--moduleResolution",
    "nodenext",
    "--skipLibCheck",
  ];
  const typeRoots = [
    "--types",
    "node",
    "--typeRoots",
    path.join(import.meta.dirname, "../../node_modules/@types"),
  ];
  execFileSync(process.execPath, [tsc, ...args, ...typeRoots, "types.mts", "types.cts"], {
    cwd: dir,
    encoding: "utf8",
  });
});
