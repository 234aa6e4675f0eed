import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { endpointUrl } from "../helpers/cli-http.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { findSamples, parsePrometheusText, type PromSample } from "../helpers/prometheus-text.js";

async function scrape(url: string): Promise<PromSample[]> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  return parsePrometheusText(await res.text());
}

const value = (
  samples: PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined => {
  const found = findSamples(samples, name, labels);
  assert.ok(found.length <= 1, `one ${name} series for ${JSON.stringify(labels)}`);
  return found[0]?.value;
};

/** The path of promtool, or undefined when the Debian package prometheus is not installed. */
function promtool(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

testWithUwsgi(
  "--http serves the readiness and the metrics of a sidecar polling a real uWSGI into a receiver",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    await uwsgi.load(20);
    const receiver = await startCliReceiver(t);
    const cli = startCli(t, [
      ...["--stats", uwsgi.stats, "--forward", `127.0.0.1:${receiver.port}`, "--shape", "summary,worker"],
      ...["--interval", "200ms", "--require-ack", "--host-name", "web-1", "--field", "env=test"],
      ...["--http", "127.0.0.1:0", "--shutdown-timeout", "5s"],
    ]);
    const url = await endpointUrl(cli);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    await receiver.waitFor(
      (events) => events.filter((e) => e.tag === "uwsgi.summary").length >= 2,
      "two summary records",
    );
    const ready = await fetch(`${url}/readyz`);
    assert.deepEqual(
      [ready.status, await ready.text()],
      [200, "ready: 1 of 1 targets up, 1 of 1 servers connected\n"],
    );

    // Acks come back after the events: scrape again on each arrival until the first ones are counted.
    let samples = await scrape(url);
    const server = `127.0.0.1:${receiver.port}`;
    for (let i = 0; i < 50 && !(value(samples, "uwsgi_forward_events_acked_total")! > 0); i++) {
      const seen = receiver.events.length;
      await receiver.waitFor((events) => events.length > seen, "more events");
      samples = await scrape(url);
    }
    const labels = { host: "web-1", env: "test", target: uwsgi.stats };
    assert.equal(value(samples, "uwsgi_forward_target_up", labels), 1);
    assert.ok(value(samples, "uwsgi_forward_target_reads_total", labels)! >= 2);
    assert.equal(value(samples, "uwsgi_forward_target_failures_total", labels), 0);
    assert.ok(value(samples, "uwsgi_forward_target_last_read_duration_seconds", labels)! > 0);
    assert.ok(value(samples, "uwsgi_forward_polls_total")! >= 2);
    assert.equal(value(samples, "uwsgi_forward_server_up", { server }), 1);
    assert.equal(value(samples, "uwsgi_forward_server_state", { server, state: "up" }), 1);
    assert.equal(value(samples, "uwsgi_forward_server_state", { server, state: "down" }), 0);
    assert.ok(value(samples, "uwsgi_forward_events_sent_total")! > 0);
    assert.ok(value(samples, "uwsgi_forward_events_acked_total")! > 0);
    assert.ok(value(samples, "uwsgi_forward_ack_latency_seconds_count", { server })! > 0);
    assert.equal(
      value(samples, "uwsgi_forward_ack_latency_seconds_bucket", { server, le: "+Inf" }),
      value(samples, "uwsgi_forward_ack_latency_seconds_count", { server }),
    );
    for (const reason of ["overflow", "closed", "evicted", "undelivered"]) {
      assert.equal(value(samples, "uwsgi_forward_events_dropped_total", { reason }), 0, reason);
    }
    assert.equal(value(samples, "uwsgi_forward_ready"), 1);

    // The polled values: the summary's requests are the sum of its workers' (one poll's records), in base units.
    const requests = value(samples, "uwsgi_requests_total", labels)!;
    assert.ok(requests >= 20, `${requests} requests`);
    const workers = findSamples(samples, "uwsgi_worker_requests_total", labels);
    assert.deepEqual(workers.map((w) => w.labels.worker_id).sort(), ["1", "2"]);
    assert.equal(
      workers.reduce((n, w) => n + w.value, 0),
      requests,
    );
    assert.equal(value(samples, "uwsgi_workers", labels), 2);
    for (const worker of ["1", "2"]) {
      const states = findSamples(samples, "uwsgi_worker_status", { ...labels, worker_id: worker });
      assert.equal(states.filter((s) => s.value === 1).length, 1, `worker ${worker} has one status`);
    }
    const running = value(samples, "uwsgi_running_time_seconds_total", labels)!;
    assert.ok(running > 0 && running < 60, `running time in seconds, not µs: ${running}`);
    assert.equal(findSamples(samples, "uwsgi_info", labels)[0]?.labels.version?.startsWith("2."), true);

    await t.test("promtool check metrics finds nothing to say", async (t) => {
      const tool = promtool();
      if (!tool) {
        t.skip(
          "promtool is missing: install the Debian package prometheus (scripts/setup.sh does) to lint /metrics",
        );
        return;
      }
      const text = await (await fetch(`${url}/metrics`)).text();
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        const child = execFile(tool, ["check", "metrics"], (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr }),
        );
        child.stdin?.end(text);
      });
      assert.deepEqual(result, { code: 0, output: "" });
    });

    await receiver.close();
    await cli.waitForLog(/disconnected from 127\.0\.0\.1:\d+/);
    const down = await fetch(`${url}/readyz`);
    assert.equal(down.status, 503);
    assert.match(
      await down.text(),
      new RegExp(`^not ready: no Forward server connected: ${server} (down|connecting)`),
    );

    // SIGTERM: the endpoint answers while the last events wait for a server (up to --shutdown-timeout), then closes.
    cli.child.kill("SIGTERM");
    await cli.waitForLog(/SIGTERM received: stopping/);
    const stopping = await fetch(`${url}/readyz`);
    assert.deepEqual(
      [stopping.status, await stopping.text()],
      [503, "not ready: stopping: delivering what is buffered, then exiting\n"],
    );
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal(await cli.exited, 0);
    assert.match(cli.stderr.join("\n"), /stopped: \d+ events .* could not be delivered in time/);
    await assert.rejects(fetch(`${url}/healthz`), "the endpoint is closed once the sidecar has stopped");
  },
);

testWithUwsgi(
  "with --stdout the endpoint answers too, and /readyz names the target that does not answer",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const missing = `${uwsgi.dir}/missing.sock`;
    const cli = startCli(t, [
      ...[
        "--stdout",
        "--stats",
        uwsgi.stats,
        "--stats",
        missing,
        "--shape",
        "summary",
        "--interval",
        "200ms",
      ],
      ...["--http", "127.0.0.1:0", "--log-format", "json"],
    ]);
    const url = await endpointUrl(cli);
    await cli.waitForStdoutLines(4);
    const ready = await fetch(`${url}/readyz`);
    assert.deepEqual([ready.status, await ready.text()], [200, "ready: 1 of 2 targets up (--stdout)\n"]);
    const samples = await scrape(url);
    assert.equal(value(samples, "uwsgi_forward_target_up", { target: missing }), 0);
    assert.equal(value(samples, "uwsgi_forward_target_up", { target: uwsgi.stats }), 1);
    assert.equal(
      findSamples(samples, "uwsgi_requests_total", { target: missing }).length,
      0,
      "no values for it",
    );
    assert.ok(value(samples, "uwsgi_forward_events_sent_total")! > 0, "printed records count as sent");
    assert.equal(findSamples(samples, "uwsgi_forward_server_up").length, 0, "no server with --stdout");

    await uwsgi.stop();
    await cli.waitForLog(new RegExp(`"target":"${uwsgi.stats.replace(/[.]/g, "\\.")}"`));
    const down = await fetch(`${url}/readyz`);
    assert.equal(down.status, 503);
    assert.match(await down.text(), /^not ready: no target answered its last read: .*UWSGI_STATS_/);

    // --log-format json: every stderr line is one object with level, time, message and, here, code and target.
    const lines = cli.stderr.filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, string>);
    const failing = lines.find((l) => l.target === missing);
    assert.deepEqual(Object.keys(failing ?? {}), ["level", "time", "message", "code", "target"]);
    assert.equal(failing?.level, "warn");
    assert.equal(failing?.code, "UWSGI_STATS_NOT_FOUND");
    assert.ok(!Number.isNaN(Date.parse(failing?.time ?? "")));
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
  },
);

testWithUwsgi(
  "an --http address that cannot be listened on is exit 1 with the reason, before any poll",
  async (t) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const cli = startCli(t, ["--stdout", "--stats", "/nonexistent.sock", "--http", `127.0.0.1:${port}`]);
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr.join("\n"),
      new RegExp(`error --http 127\\.0\\.0\\.1:${port}: cannot listen: EADDRINUSE`),
    );
    assert.deepEqual(cli.stdout, [], "nothing was polled");
  },
);

testWithUwsgi(
  "SIGHUP applies a new --log-format at once and keeps the --http address, saying so",
  async (t) => {
    const dir = cliTempDir(t);
    const file = join(dir, "sidecar.yaml");
    const missing = join(dir, "missing.sock");
    writeFileSync(file, `stats: ${missing}\nstdout: true\nhttp: 127.0.0.1:0\n`);
    const cli = startCli(t, ["--config", file]);
    const url = await endpointUrl(cli);
    await cli.waitForLog(/target .* failing: UWSGI_STATS_NOT_FOUND/);
    writeFileSync(file, `stats: ${missing}\nstdout: true\nhttp: 127.0.0.1:1\nlog-format: json\n`);
    cli.child.kill("SIGHUP");
    const warning = await cli.waitForLog(/--http cannot change while running/);
    assert.deepEqual(
      { ...(JSON.parse(warning) as Record<string, string>), time: "" },
      {
        level: "warn",
        time: "",
        message: "reload: --http cannot change while running; restart to change it",
      },
    );
    assert.equal((await fetch(`${url}/healthz`)).status, 200, "still served where it was");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
  },
);
