import assert from "node:assert/strict";
import { test } from "node:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliTempDir } from "../helpers/cli-temp.js";
import { generateForwardCerts } from "../helpers/forward-certs.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { skipWithoutDnsmasq, startDnsmasq } from "../helpers/dnsmasq.js";
import { until } from "../helpers/fake-time.js";
import { freePort } from "../helpers/free-port.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";
import { UWSGI_MISSING, testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { startCliPipeline } from "../helpers/cli-pipeline.js";

testWithUwsgi(
  "records from a real uWSGI reach a FluentServer, with acks, and so does the sidecar's health record",
  async (t) => {
    const { uwsgi, receiver, cli } = await startCliPipeline(t, [
      "--shape",
      "summary",
      "--shape",
      "worker",
      "--require-ack",
      "--interval",
      "200ms",
      "--health-interval",
      "500ms",
      "--tag-prefix",
      "app.uwsgi",
    ]);
    await receiver.waitFor((events) => events.some((e) => e.tag === "app.uwsgi.summary"), "a first summary");
    await uwsgi.load(30);
    await receiver.waitFor(
      (events) => events.some((e) => e.tag === "app.uwsgi.summary" && (e.record.requests as number) >= 30),
      "a summary that counts the load",
    );
    await receiver.waitFor(
      (events) => events.some((e) => e.tag === "app.uwsgi.health" && (e.record.acked as number) > 0),
      "a health record with acked events",
    );
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);

    const summary = receiver.events.filter((e) => e.tag === "app.uwsgi.summary").at(-1)?.record ?? {};
    assert.equal(summary.target, uwsgi.stats);
    assert.equal(summary.workers, 2);
    assert.ok((summary.exceptions as number) >= 3, `exceptions ${summary.exceptions}`);
    const workers = receiver.events.filter((e) => e.tag === "app.uwsgi.worker");
    assert.deepEqual([...new Set(workers.map((e) => e.record.id))].sort(), [1, 2]);

    const health = receiver.events.filter((e) => e.tag === "app.uwsgi.health").at(-1)?.record ?? {};
    for (const field of ["polls", "records", "sent", "acked", "dropped", "buffered_bytes", "target_errors"]) {
      assert.equal(typeof health[field], "number", field);
    }
    assert.equal(health.dropped, 0);
    assert.deepEqual(
      (health.targets as { target: string; state: string }[]).map((x) => [x.target, x.state]),
      [[uwsgi.stats, "ok"]],
    );
    const servers = health.servers as { server: string; state: string }[];
    assert.equal(servers[0]?.server, `127.0.0.1:${receiver.port}`);
    assert.equal(servers[0]?.state, "up");
    assert.equal(cli.stderr.filter((l) => /connected to 127\.0\.0\.1/.test(l)).length, 1);
  },
);

testWithUwsgi("the shared key comes from the environment, never from the command line", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const receiver = await startCliReceiver(t, { sharedKey: "s3cret-key" });
  const cli = startCli(
    t,
    ["--stats", uwsgi.stats, "--forward", `127.0.0.1:${receiver.port}`, "--interval", "200ms"],
    { UWSGI_FORWARD_SHARED_KEY: "s3cret-key", UWSGI_FORWARD_SELF_HOSTNAME: "web-1" },
  );
  await receiver.waitFor((events) => events.some((e) => e.tag === "uwsgi.stats"), "a raw record");
  assert.ok(!(cli.child.spawnargs ?? []).some((arg) => arg.includes("s3cret")), "the key is not in argv");
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
});

testWithUwsgi("a wrong shared key is logged once with its code, not once per reconnect", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const receiver = await startCliReceiver(t, { sharedKey: "right" });
  const cli = startCli(
    t,
    [
      "--stats",
      uwsgi.stats,
      "--forward",
      `127.0.0.1:${receiver.port}`,
      "--interval",
      "100ms",
      "--shutdown-timeout",
      "200ms",
    ],
    { UWSGI_FORWARD_SHARED_KEY: "wrong" },
  );
  await cli.waitForLog(/failing: FORWARD_AUTH_FAILED/);
  // The sink retries with its backoff (500 ms, then doubling): three refused attempts, still one log line.
  await receiver.waitForConnections(3);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  assert.equal(
    cli.stderr.filter((l) => /failing: FORWARD_AUTH_FAILED/.test(l)).length,
    1,
    cli.stderr.join("\n"),
  );
  assert.equal(receiver.events.length, 0);
  assert.ok(
    cli.stderr.some((l) =>
      / warn stopped: \d+ events \(\d+ bytes\) could not be delivered: every server failed for good, so the shutdown did not wait; 127\.0\.0\.1:\d+: FORWARD_AUTH_FAILED: /.test(
        l,
      ),
    ),
    `the undelivered events are reported as a warning, with the fault that ended the wait:\n${cli.stderr.join("\n")}`,
  );
});

testWithUwsgi(
  "mutual TLS, a shared key and a user, all from files and the environment, reach a FluentServer",
  async (t) => {
    const certs = generateForwardCerts();
    const dir = cliTempDir(t);
    const file = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t, {
      sharedKey: "tls-shared-key",
      users: { sidecar: "pw-from-file" },
      tls: {
        key: certs.serverKey,
        cert: certs.serverCert,
        ca: certs.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    const cli = startCli(
      t,
      [
        "--stats",
        uwsgi.stats,
        "--forward",
        `127.0.0.1:${receiver.port}`,
        "--tls-ca",
        file("ca.pem", certs.ca),
        "--tls-cert",
        file("client.pem", certs.clientCert),
        "--tls-key",
        file("client.key", certs.clientKey),
        "--username",
        "sidecar",
        "--password-file",
        file("password", "pw-from-file\n"),
        "--require-ack",
        "--interval",
        "200ms",
      ],
      { UWSGI_FORWARD_SHARED_KEY_FILE: file("shared-key", "tls-shared-key\n") },
    );
    await receiver.waitFor((events) => events.some((e) => e.tag === "uwsgi.stats"), "a raw record over TLS");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.ok(
      cli.stderr.some((l) => /stopped: delivered everything/.test(l)),
      cli.stderr.join("\n"),
    );
  },
);

testWithUwsgi("--forward-unix sends to a FluentServer on a unix socket", async (t) => {
  const dir = cliTempDir(t);
  const uwsgi = await startCliUwsgi(t);
  const path = join(dir, "forward.sock");
  const receiver = await startCliReceiver(t, { path });
  const cli = startCli(t, [
    "--stats",
    uwsgi.stats,
    "--forward-unix",
    path,
    "--shape",
    "summary",
    "--interval",
    "200ms",
  ]);
  await receiver.waitFor(
    (events) => events.some((e) => e.tag === "uwsgi.summary"),
    "a summary over a unix socket",
  );
  assert.ok(cli.stderr.some((l) => l.includes(`connected to ${path}`)));
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
});

testWithUwsgi(
  "a server that asks for one frame per connection (keepalive false) is not logged as going down each time",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t, { sharedKey: "k", keepalive: false });
    const cli = startCli(
      t,
      [
        "--stats",
        uwsgi.stats,
        "--forward",
        `127.0.0.1:${receiver.port}`,
        "--interval",
        "100ms",
        "--health-interval",
        "0",
      ],
      { UWSGI_FORWARD_SHARED_KEY: "k" },
    );
    await receiver.waitFor((events) => events.length >= 5, "five records, over several connections");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.equal(cli.stderr.filter((l) => / info connected to /.test(l)).length, 1, cli.stderr.join("\n"));
    assert.ok(!cli.stderr.some((l) => / warn /.test(l)), cli.stderr.join("\n"));
  },
);

testWithUwsgi(
  "--once with no server listening gives up after --shutdown-timeout, says what it could not deliver and exits 1",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);
    const port = receiver.port;
    await receiver.close(); // nothing listens on this port any more
    const cli = startCli(t, [
      "--once",
      "--stats",
      uwsgi.stats,
      "--forward",
      `127.0.0.1:${port}`,
      "--shutdown-timeout",
      "300ms",
    ]);
    assert.equal(await cli.exited, 1);
    assert.equal(
      cli.stderr.filter((l) => /failing: FORWARD_CONNECT_FAILED/.test(l)).length,
      1,
      cli.stderr.join("\n"),
    );
    assert.ok(
      cli.stderr.some((l) =>
        / warn polled once: 1 records; 1 events .* could not be delivered in time; 127\.0\.0\.1:\d+: FORWARD_CONNECT_FAILED: /.test(
          l,
        ),
      ),
      cli.stderr.join("\n"),
    );
  },
);

testWithUwsgi("with the primary --forward down, records go to the ,standby one", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const primary = await startCliReceiver(t);
  const standby = await startCliReceiver(t);
  const primaryPort = primary.port;
  await primary.close();
  const cli = startCli(t, [
    "--stats",
    uwsgi.stats,
    "--forward",
    `127.0.0.1:${primaryPort},weight=10`,
    "--forward",
    `127.0.0.1:${standby.port},standby`,
    "--require-ack",
    "--interval",
    "200ms",
  ]);
  await standby.waitFor(
    (events) => events.filter((e) => e.tag === "uwsgi.stats").length >= 2,
    "records at the standby",
  );
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  assert.ok(
    cli.stderr.some((l) => l.includes(`server 127.0.0.1:${primaryPort} failing: FORWARD_CONNECT_FAILED`)),
  );
  assert.ok(cli.stderr.some((l) => l.includes(`connected to 127.0.0.1:${standby.port}`)));
});

test(
  "--forward with a name and --dns-server sends to every address of the name; --forward-srv follows SRV records",
  { skip: skipWithoutDnsmasq() || (UWSGI_MISSING ?? false) },
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const port = await freePort();
    const [a, b] = await Promise.all(
      ["127.0.0.2", "127.0.0.3"].map((host) => forwardReceiver({ host, idField: "none" }, port)),
    );
    t.after(() => Promise.all([a!.close(), b!.close()]).then(() => undefined));
    const dns = await startDnsmasq(
      t,
      { "aggregators.test": ["127.0.0.2", "127.0.0.3"], "b.test": ["127.0.0.3"] },
      [{ name: "_fluentd._tcp.aggregators.test", target: "b.test", port, priority: 1, weight: 1 }],
    );
    const common = [
      "--stats",
      uwsgi.stats,
      "--interval",
      "50ms",
      "--dns-server",
      dns.server,
      "--dns-refresh",
      "1s",
    ];
    const byName = startCli(t, [...common, "--forward", `aggregators.test:${port}`]);
    await until(
      () => a!.events.length > 0 && b!.events.length > 0,
      "both addresses of the name take records",
      10_000_000,
    );
    byName.child.kill("SIGTERM");
    assert.equal(await byName.exited, 0);
    const atSrv = a!.events.length;
    const bySrv = startCli(t, [...common, "--forward-srv", "_fluentd._tcp.aggregators.test"]);
    const bBefore = b!.events.length;
    await until(() => b!.events.length > bBefore + 3, "the SRV target takes records", 10_000_000);
    bySrv.child.kill("SIGTERM");
    assert.equal(await bySrv.exited, 0);
    assert.equal(a!.events.length, atSrv, "the address that is not an SRV target got nothing");
  },
);

testWithUwsgi(
  "--once stops waiting as soon as every server refuses the shared key, says so as a warning and exits 1",
  { timeout: 60_000 },
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t, { sharedKey: "right" });
    // A shutdown timeout far longer than the test's: only giving up on the refused key lets it end in time.
    const cli = startCli(
      t,
      [
        "--once",
        "--stats",
        uwsgi.stats,
        "--forward",
        `127.0.0.1:${receiver.port}`,
        "--shutdown-timeout",
        "1h",
      ],
      { UWSGI_FORWARD_SHARED_KEY: "wrong" },
    );
    assert.equal(await cli.exited, 1, cli.stderr.join("\n"));
    assert.equal(receiver.events.length, 0);
    assert.ok(
      cli.stderr.some((l) =>
        / warn polled once: 1 records; 1 events \(\d+ bytes\) could not be delivered: every server failed for good, so the shutdown did not wait; 127\.0\.0\.1:\d+: FORWARD_AUTH_FAILED: /.test(
          l,
        ),
      ),
      cli.stderr.join("\n"),
    );
  },
);

testWithUwsgi(
  "without --require-ack the exit line counts what was sent and says nothing of acknowledgements",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);
    const cli = startCli(t, ["--once", "--stats", uwsgi.stats, "--forward", `127.0.0.1:${receiver.port}`]);
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const line = cli.stderr.find((l) => /polled once:/.test(l)) ?? "";
    assert.match(line, / info polled once: 1 records; wrote everything \(1 events written to the servers; /);
    assert.doesNotMatch(line, /acknowledged/);
  },
);
