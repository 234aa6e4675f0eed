import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { endpointUrl } from "../helpers/cli-http.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { freePort } from "../helpers/forward-receiver.js";
import { peerTempDir, skipWithoutPeers, startFluentd, waitForEvents } from "./helpers/peers.js";

/** Why this suite cannot run here: no real peers, or no Prometheus (Debian package prometheus). */
function skipReason(): false | string {
  const peers = skipWithoutPeers();
  if (peers) return peers;
  const found = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).stdout.trim();
  return found
    ? false
    : "prometheus is missing: install the Debian package prometheus (scripts/setup.sh does)";
}

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

/** A real Prometheus 2.42 on 127.0.0.1 with a temp data dir, scraping `target` every second. */
async function startPrometheus(
  t: { after: (fn: () => Promise<void>) => void },
  dir: string,
  target: string,
): Promise<{ query(expr: string): Promise<PromSeries[]>; log(): string }> {
  const port = await freePort();
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: uwsgi-forward",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  const child = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=info",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  const exited = once(child, "exit");
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prometheus did not start:\n${log}`)), 60_000);
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      log += chunk;
      if (log.includes("Server is ready to receive web requests")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`prometheus exited:\n${log}`)));
  });
  return {
    async query(expr) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; data: { result: PromSeries[] } };
      assert.equal(body.status, "success", expr);
      return body.data.result;
    },
    log: () => log,
  };
}

/** Polls `probe` (Prometheus scrapes every second) until it gives a value, for at most `timeoutMs`. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function readyz(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, text: await res.text() };
}

test(
  "a real Prometheus scrapes a sidecar that polls a real uWSGI into a real Fluentd; /readyz follows Fluentd",
  { skip: skipReason() },
  async (t) => {
    const dir = peerTempDir(t);
    const fluentdPort = await freePort();
    let fluentd = await startFluentd({ port: fluentdPort, workdir: path.join(dir, "fluentd") });
    t.after(() => fluentd.stop());
    const uwsgi = await startCliUwsgi(t);
    await uwsgi.load(10);
    const cli = startCli(t, [
      ...["--stats", uwsgi.stats, "--forward", `127.0.0.1:${fluentdPort}`, "--shape", "summary,worker"],
      ...["--interval", "500ms", "--require-ack", "--host-name", "web-1", "--field", "env=interop"],
      ...["--http", "127.0.0.1:0"],
    ]);
    const url = await endpointUrl(cli);
    const prometheus = await startPrometheus(t, dir, url.slice("http://".length));
    const server = `127.0.0.1:${fluentdPort}`;

    // One sidecar feeds Fluentd and the scrape at once.
    await waitForEvents(fluentd.out, (events) => events.some((e) => e._tag === "uwsgi.summary"));
    const requests = await until(async () => {
      const [series] = await prometheus.query(`uwsgi_requests_total{target="${uwsgi.stats}"}`);
      return series;
    }, "uwsgi_requests_total in Prometheus");
    const { __name__, instance, ...labels } = requests.metric;
    assert.equal(__name__, "uwsgi_requests_total");
    assert.equal(instance, url.slice("http://".length));
    assert.deepEqual(labels, { job: "uwsgi-forward", host: "web-1", env: "interop", target: uwsgi.stats });
    assert.ok(Number(requests.value[1]) >= 10);
    const workers = await prometheus.query(`uwsgi_worker_requests_total{target="${uwsgi.stats}"}`);
    assert.deepEqual(workers.map((w) => w.metric.worker_id).sort(), ["1", "2"]);
    const [up] = await prometheus.query(`uwsgi_forward_target_up{target="${uwsgi.stats}"}`);
    assert.equal(up?.value[1], "1");
    const acked = await until(async () => {
      const [series] = await prometheus.query(
        `uwsgi_forward_ack_latency_seconds_count{server="${server}"} > 0`,
      );
      return series;
    }, "acks counted in Prometheus");
    assert.ok(Number(acked.value[1]) > 0);
    const [serverUp] = await prometheus.query(`uwsgi_forward_server_up{server="${server}"}`);
    assert.equal(serverUp?.value[1], "1");
    assert.equal((await readyz(url)).status, 200);
    const [ready] = await prometheus.query("uwsgi_forward_ready");
    assert.equal(ready?.value[1], "1");

    // Fluentd stops: /readyz turns 503 with the reason, and Prometheus sees the sidecar not ready.
    await fluentd.stop();
    const notReady = await until(async () => {
      const r = await readyz(url);
      return r.status === 503 ? r : undefined;
    }, "/readyz 503 after Fluentd stopped");
    assert.match(notReady.text, new RegExp(`^not ready: no Forward server connected: ${server} `));
    await until(async () => {
      const [series] = await prometheus.query(`uwsgi_forward_server_up{server="${server}"} == 0`);
      return series;
    }, "uwsgi_forward_server_up 0 in Prometheus");

    // Fluentd is back on the same port: ready again.
    fluentd = await startFluentd({ port: fluentdPort, workdir: path.join(dir, "fluentd") });
    const readyAgain = await until(async () => {
      const r = await readyz(url);
      return r.status === 200 ? r : undefined;
    }, "/readyz 200 after Fluentd came back");
    assert.equal(readyAgain.text, "ready: 1 of 1 targets up, 1 of 1 servers connected\n");
    await until(async () => {
      const [series] = await prometheus.query("uwsgi_forward_ready == 1");
      return series;
    }, "uwsgi_forward_ready 1 again in Prometheus");
    const [connects] = await prometheus.query(`uwsgi_forward_server_connects_total{server="${server}"}`);
    assert.ok(Number(connects?.value[1]) >= 2, "connected twice");

    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
  },
);
