import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver, type CliReceiver } from "../helpers/cli-receiver.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { freePort } from "../helpers/free-port.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { startCliPipeline } from "../helpers/cli-pipeline.js";

/**
 * The last event at `receiver` is the final health record: nothing dropped, and every record the sidecar emitted
 * (all but that record of the `arrived` events, over every server) arrived.
 */
function assertFinalHealth(receiver: CliReceiver, arrived: number, what: string): void {
  const health = receiver.events.at(-1);
  assert.equal(health?.tag, "uwsgi.health");
  assert.equal(health?.record.dropped, 0);
  assert.equal(arrived - 1, health?.record.emitted, what);
}

testWithUwsgi(
  "SIGTERM stops polling, delivers every buffered event with its ack, sends a last health record and exits 0",
  async (t) => {
    const { receiver, cli } = await startCliPipeline(t, [
      "--shape",
      "raw,summary,worker,flat",
      "--require-ack",
      "--interval",
      "50ms",
    ]);
    await receiver.waitFor((events) => events.length >= 10, "ten events");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    const stopped = cli.stderr.find((l) => /stopped: delivered everything/.test(l));
    assert.ok(stopped, cli.stderr.join("\n"));
    const [, sent, acked] = /\((\d+) events sent, (\d+) acknowledged\)/.exec(stopped) ?? [];
    assert.equal(sent, acked);
    assert.equal(receiver.events.length, Number(sent), "every event the sidecar sent arrived");
    const last = receiver.events.at(-1);
    assert.equal(last?.tag, "uwsgi.health", "the last event is the final health record");
    assert.equal(last?.record.dropped, 0);
  },
);

testWithUwsgi("a second SIGTERM exits at once, without waiting for acks that never come", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const sockets = new Set<Socket>();
  // A server that accepts and reads but never acknowledges.
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const cli = startCli(t, [
    "--stats",
    uwsgi.stats,
    "--forward",
    `127.0.0.1:${port}`,
    "--require-ack",
    "--interval",
    "100ms",
    "--shutdown-timeout",
    "1h",
  ]);
  await cli.waitForLog(/connected to 127\.0\.0\.1/);
  cli.child.kill("SIGTERM");
  await cli.waitForLog(/SIGTERM received: stopping/);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 143);
  const last = cli.stderr.find((l) => /received again: exiting now/.test(l)) ?? cli.stderr.join("\n");
  // Every record sent to the silent server is still held, unacknowledged: the line says how many are lost.
  const [, lost] =
    / warn SIGTERM received again: exiting now without waiting for delivery; (\d+) events still held are lost$/.exec(
      last,
    ) ?? [];
  assert.ok(Number(lost) > 0, last);
});

testWithUwsgi(
  "SIGHUP re-reads the config file and applies it without dropping buffered events",
  async (t) => {
    const dir = cliTempDir(t);
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);
    const config = join(dir, "uwsgi-forward.yaml");
    const base = `stats: ${uwsgi.stats}\nforward: 127.0.0.1:${receiver.port}\nrequire-ack: true\n`;
    writeFileSync(config, `${base}interval: 100ms\nshape: summary\n`);
    const cli = startCli(t, ["--config", config]);
    await receiver.waitFor((events) => events.some((e) => e.tag === "uwsgi.summary"), "summaries");

    writeFileSync(config, `${base}interval: 100ms\nshape: [worker]\nlog-level: debug\n`);
    cli.child.kill("SIGHUP");
    await cli.waitForLog(/reload: configuration applied/);
    const atReload = receiver.events.length;
    await receiver.waitFor(
      (events) => events.slice(atReload).some((e) => e.tag === "uwsgi.worker"),
      "worker records after the reload",
    );

    writeFileSync(config, `${base}interval: never\n`);
    cli.child.kill("SIGHUP");
    await cli.waitForLog(
      /reload failed, keeping the running configuration: interval in .* \(--interval\): expected a duration/,
    );
    const afterBadReload = receiver.events.length;
    await receiver.waitFor((events) => events.length > afterBadReload + 2, "records after a failed reload");

    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.ok(!cli.stderr.some((l) => /new forward settings/.test(l)), "the sink was kept");
    const stopped = cli.stderr.find((l) => /stopped: delivered everything/.test(l)) ?? "";
    const [, sent] = /\((\d+) events sent/.exec(stopped) ?? [];
    assert.equal(receiver.events.length, Number(sent), "nothing was dropped across the reloads");
    assert.equal(cli.stderr.filter((l) => /connected to/.test(l)).length, 1, "one connection all along");
  },
);

testWithUwsgi(
  "SIGHUP with a new --forward moves the running sink to the new server: the old one is drained, nothing is lost",
  async (t) => {
    const dir = cliTempDir(t);
    const uwsgi = await startCliUwsgi(t);
    const first = await startCliReceiver(t);
    const second = await startCliReceiver(t);
    const config = join(dir, "uwsgi-forward.json");
    const settings = { stats: uwsgi.stats, "require-ack": true, interval: "100ms", "health-interval": "1h" };
    writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${first.port}` }));
    const cli = startCli(t, ["--config", config]);
    await first.waitFor((events) => events.length >= 2, "events at the first server");
    writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${second.port}` }));
    cli.child.kill("SIGHUP");
    await cli.waitForLog(/reload: sending to 127\.0\.0\.1:\d+ \(the sink and what it holds are kept\)/);
    await second.waitFor((events) => events.length >= 2, "events at the second server");
    const atFirst = first.events.length;
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.equal(first.events.length, atFirst, "nothing went to the old server after the reload");
    assert.ok(!cli.stderr.some((l) => /previous sink/.test(l)), "no second sink was made");
    assertFinalHealth(second, first.events.length + second.events.length, "every event arrived");
  },
);

testWithUwsgi(
  "SIGHUP to a new server while the old one is down: what the sink held goes to the new one, nothing is dropped",
  async (t) => {
    const dir = cliTempDir(t);
    const uwsgi = await startCliUwsgi(t);
    const oldPort = await freePort();
    const second = await startCliReceiver(t);
    const config = join(dir, "uwsgi-forward.json");
    const settings = { stats: uwsgi.stats, "require-ack": true, interval: "100ms", "health-interval": "1h" };
    writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${oldPort}` }));
    const cli = startCli(t, ["--config", config]);
    await cli.waitForLog(new RegExp(`server 127\\.0\\.0\\.1:${oldPort} failing`));
    await cli.waitForLog(/polling/);
    writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${second.port}` }));
    cli.child.kill("SIGHUP");
    await second.waitFor((events) => events.length >= 4, "events at the new server");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.ok(!cli.stderr.some((l) => /dropping events/.test(l)), cli.stderr.join("\n"));
    assertFinalHealth(second, second.events.length, "what was held for the old server arrived too");
  },
);

testWithUwsgi(
  "SIGHUP that changes more than the servers (acks) replaces the sink; the old one delivers what it held",
  async (t) => {
    const dir = cliTempDir(t);
    const uwsgi = await startCliUwsgi(t);
    const first = await startCliReceiver(t);
    const second = await startCliReceiver(t);
    const config = join(dir, "uwsgi-forward.json");
    const settings = { stats: uwsgi.stats, interval: "100ms", "health-interval": "0" };
    writeFileSync(config, JSON.stringify({ ...settings, forward: `127.0.0.1:${first.port}` }));
    const cli = startCli(t, ["--config", config]);
    await first.waitFor((events) => events.length >= 2, "events at the first server");
    writeFileSync(
      config,
      JSON.stringify({ ...settings, "require-ack": true, forward: `127.0.0.1:${second.port}` }),
    );
    cli.child.kill("SIGHUP");
    await cli.waitForLog(/previous sink closed: wrote everything/);
    await second.waitFor((events) => events.length >= 2, "events at the second server");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
  },
);
