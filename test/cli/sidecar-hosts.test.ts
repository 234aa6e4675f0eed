import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

interface Line {
  tag: string;
  record: Record<string, unknown>;
}

const parse = (lines: string[]): Line[] => lines.filter((l) => l !== "").map((l) => JSON.parse(l) as Line);

testWithUwsgi("--host-name and --field label every record, the health record included", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const cli = startCli(t, [
    "--stdout",
    "--stats",
    uwsgi.stats,
    "--shape",
    "raw,summary,worker,flat",
    "--interval",
    "200ms",
    "--health-interval",
    "300ms",
    "--host-name",
    "web-3",
    "--field",
    "env=prod",
    "--field=role=api",
  ]);
  await cli.waitForLog(/polling/);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no health line")), 20_000);
    const check = setInterval(() => {
      if (parse(cli.stdout).some((l) => l.tag === "uwsgi.health")) {
        clearTimeout(timer);
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  const lines = parse(cli.stdout);
  const tags = new Set(lines.map((l) => l.tag));
  for (const tag of ["uwsgi.stats", "uwsgi.summary", "uwsgi.worker", "uwsgi.flat", "uwsgi.health"])
    assert.ok(tags.has(tag), `a ${tag} line`);
  for (const { tag, record } of lines) {
    assert.deepEqual(Object.keys(record).slice(0, 3), ["host", "env", "role"], tag);
    assert.deepEqual([record.host, record.env, record.role], ["web-3", "prod", "api"], tag);
  }
});

test("a --field that is not KEY=VALUE or names a built-in field is a usage error naming --field", async (t) => {
  for (const [value, message] of [
    ["env", /--field: expected KEY=VALUE, such as env=prod, got "env"/],
    ["=prod", /--field: expected KEY=VALUE/],
    ["my-env=prod", /--field.*a label name must match/],
    ["target=x", /--field.*"target" is a field the records already carry/],
  ] as const) {
    const cli = startCli(t, ["--stdout", "--once", "--field", value]);
    assert.equal(await cli.exited, 2, value);
    assert.match(cli.stderr.join("\n"), message, value);
  }
});

testWithUwsgi(
  "two hosts, the same socket path: two sidecars with different --host-name keep their records apart at one receiver",
  async (t) => {
    // Two real uWSGI, each in its own working directory with `stats = stat.sock`: the same target string, as every
    // host's /tmp/stat.sock is. Each sidecar runs in its uWSGI's directory and polls `./stat.sock`.
    const [a, b] = await Promise.all([
      startCliUwsgi(t, { stats: "stat.sock" }),
      startCliUwsgi(t, { stats: "stat.sock" }),
    ]);
    await a.load(3);
    await b.load(7);
    const receiver = await startCliReceiver(t);
    const sidecar = (uwsgi: typeof a, host: string): ReturnType<typeof startCli> =>
      startCli(
        t,
        [
          "--stats",
          "./stat.sock",
          "--forward",
          `127.0.0.1:${receiver.port}`,
          "--shape",
          "summary,worker",
          "--interval",
          "200ms",
          "--host-name",
          host,
          "--field",
          "env=test",
        ],
        {},
        { cwd: uwsgi.dir },
      );
    const clis = [sidecar(a, "web-a"), sidecar(b, "web-b")];
    const summariesOf = (host: string): Record<string, unknown>[] =>
      receiver.events.filter((e) => e.tag === "uwsgi.summary" && e.record.host === host).map((e) => e.record);
    await receiver.waitFor(
      () => summariesOf("web-a").length >= 2 && summariesOf("web-b").length >= 2,
      "summaries from both hosts",
    );
    for (const cli of clis) cli.child.kill("SIGTERM");
    for (const cli of clis) assert.equal(await cli.exited, 0);

    for (const e of receiver.events) {
      assert.ok(
        e.record.host === "web-a" || e.record.host === "web-b",
        `${e.tag} host ${String(e.record.host)}`,
      );
      assert.equal(e.record.env, "test");
      if (e.tag !== "uwsgi.health")
        assert.equal(e.record.target, "./stat.sock", "the same target on both hosts");
    }
    // Each host's records describe its own uWSGI: its master pid and its own request count.
    const pidOf = (dir: string): number => Number(readFileSync(join(dir, "uwsgi.pid"), "utf8"));
    const [pidA, pidB] = [pidOf(a.dir), pidOf(b.dir)];
    assert.notEqual(pidA, pidB);
    for (const r of summariesOf("web-a")) assert.equal(r.pid, pidA);
    for (const r of summariesOf("web-b")) assert.equal(r.pid, pidB);
    assert.equal(summariesOf("web-a").at(-1)?.requests, 3);
    assert.equal(summariesOf("web-b").at(-1)?.requests, 7);
    // Grouped by (host, target), as the shipped queries do, the two hosts stay two groups.
    const groups = new Set(
      receiver.events
        .filter((e) => e.tag === "uwsgi.summary")
        .map((e) => `${String(e.record.host)} ${String(e.record.target)}`),
    );
    assert.deepEqual([...groups].sort(), ["web-a ./stat.sock", "web-b ./stat.sock"]);
    const workerHosts = new Set(
      receiver.events.filter((e) => e.tag === "uwsgi.worker").map((e) => e.record.host),
    );
    assert.deepEqual([...workerHosts].sort(), ["web-a", "web-b"]);
    const healthHosts = receiver.events.filter((e) => e.tag === "uwsgi.health").map((e) => e.record.host);
    assert.deepEqual([...healthHosts].sort(), ["web-a", "web-b"], "one final health record per sidecar");
  },
);
