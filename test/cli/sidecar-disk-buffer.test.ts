import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver, type ReceivedEvent } from "../helpers/cli-receiver.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { freePort } from "../helpers/free-port.js";

/** An event's time in epoch seconds, however the receiver decoded it (a number, or EventTime's parts). */
function seconds(event: ReceivedEvent): number {
  const time = event.time as
    number | { seconds?: number; nanoseconds?: number; epoch?: number; nano?: number };
  if (typeof time === "number") return time;
  return (time.seconds ?? time.epoch ?? NaN) + (time.nanoseconds ?? time.nano ?? 0) / 1e9;
}

test("--buffer-path: records polled while the server was down survive a kill -9 and are sent by the next start", async (t) => {
  const dir = cliTempDir(t);
  const buffer = join(dir, "buffer");
  const uwsgi = await startCliUwsgi(t);
  const port = await freePort();
  const args = [
    "--stats",
    uwsgi.stats,
    "--forward",
    `127.0.0.1:${port}`,
    "--require-ack",
    "--interval",
    "100ms",
  ];
  const first = startCli(t, [...args, "--buffer-path", buffer, "--health-interval", "0"]);
  await first.waitForLog(/failing/);
  await first.waitForLog(/polling/);
  await new Promise((resolve) => setTimeout(resolve, 800)); // several polls sealed into frames on disk
  const killedAt = Date.now() / 1000;
  first.child.kill("SIGKILL");
  await first.exited;
  assert.ok(
    readdirSync(buffer).some((name) => name.endsWith(".seg")),
    "frames were written to disk",
  );

  const receiver = await startCliReceiver(t, { port });
  const second = startCli(t, [...args, "--buffer-path", buffer, "--health-interval", "0"]);
  const line = await second.waitForLog(/replaying \d+ records left undelivered in --buffer-path/);
  const replayed = Number(/replaying (\d+)/.exec(line)?.[1]);
  assert.ok(replayed > 0, line);
  // Replay goes first: the first records to arrive are the replayed ones, all polled before the kill.
  await receiver.waitFor(
    (events) => events.length >= replayed,
    `the ${replayed} records polled before the kill`,
  );
  assert.ok(receiver.events.slice(0, replayed).every((e) => seconds(e) < killedAt));
  second.child.kill("SIGTERM");
  assert.equal(await second.exited, 0);
});

test("SIGHUP that replaces the sink with the same --buffer-path: the new sink takes the directory over and sends what the old one held", async (t) => {
  const dir = cliTempDir(t);
  const uwsgi = await startCliUwsgi(t);
  const oldPort = await freePort();
  const second = await startCliReceiver(t);
  const config = join(dir, "uwsgi-forward.json");
  const settings = {
    stats: uwsgi.stats,
    "require-ack": true,
    interval: "100ms",
    "health-interval": "0",
    "buffer-path": join(dir, "buffer"),
  };
  writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${oldPort}` }));
  const cli = startCli(t, ["--config", config]);
  await cli.waitForLog(new RegExp(`server 127\\.0\\.0\\.1:${oldPort} failing`));
  await cli.waitForLog(/polling/);
  await new Promise((resolve) => setTimeout(resolve, 500)); // a few polls held for the old server

  // More than the servers changes (the memory limit): a new sink is made, and it takes the directory over.
  writeFileSync(
    config,
    JSON.stringify({ ...settings, "buffer-limit": "32MiB", forward: `127.0.0.1:${second.port}` }),
  );
  cli.child.kill("SIGHUP");
  await cli.waitForLog(/same --buffer-path; previous sink closed \(\d+ events kept in --buffer-path/);
  const closedAt = Date.now() / 1000;
  const line = await cli.waitForLog(/replaying \d+ records/);
  const replayed = Number(/replaying (\d+)/.exec(line)?.[1]);
  assert.ok(replayed > 0, line);
  // Replay goes first: the first records at the new server are those the old sink held, polled before it closed.
  await second.waitFor(
    (events) => events.length >= replayed,
    "the records held before the reload, at the new server",
  );
  assert.ok(second.events.slice(0, replayed).every((e) => seconds(e) < closedAt));
  assert.ok(!cli.stderr.some((l) => /FORWARD_BUFFER_LOCKED|reload failed/.test(l)), cli.stderr.join("\n"));
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
});
