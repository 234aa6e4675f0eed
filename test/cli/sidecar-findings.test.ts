import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

interface Line {
  tag: string;
  record: Record<string, unknown>;
}

const parse = (lines: string[]): Line[] => lines.filter((l) => l !== "").map((l) => JSON.parse(l) as Line);

test("--once with a glob that matches nothing prints a UWSGI_STATS_NO_TARGETS record, warns, and exits 1", async (t) => {
  const dir = cliTempDir(t);
  const pattern = join(dir, "nope*.sock");
  const cli = startCli(t, ["--stats", pattern, "--stdout", "--once"]);
  assert.equal(await cli.exited, 1);
  const lines = parse(cli.stdout);
  assert.deepEqual(
    lines.map((l) => [l.tag, l.record.code, l.record.target]),
    [["uwsgi.error", "UWSGI_STATS_NO_TARGETS", pattern]],
  );
  assert.equal(cli.stderr.filter((l) => / warn UWSGI_STATS_NO_TARGETS: no socket matches/.test(l)).length, 1);
});

test("a daemon whose glob matches nothing warns once and says targets_matched: 0 in the health record", async (t) => {
  const dir = cliTempDir(t);
  const cli = startCli(t, [
    "--stats",
    join(dir, "*.sock"),
    "--stdout",
    "--interval",
    "50ms",
    "--health-interval",
    "400ms",
  ]);
  await cli.waitForStdoutLines(2);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  const lines = parse(cli.stdout);
  assert.equal(lines.filter((l) => l.tag === "uwsgi.error").length, 1, "one record, not one per poll");
  const health = lines.filter((l) => l.tag === "uwsgi.health").at(-1)?.record ?? {};
  assert.ok((health.polls as number) >= 4, `polls ${String(health.polls)}`);
  assert.equal(health.targets_matched, 0);
  assert.equal(cli.stderr.filter((l) => /UWSGI_STATS_NO_TARGETS/.test(l)).length, 1, cli.stderr.join("\n"));
});

testWithUwsgi(
  "--once --shape summary polls twice, one interval apart, and prints the second poll, with rates",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    await uwsgi.load(5);
    const cli = startCli(t, [
      "--stats",
      uwsgi.stats,
      "--stdout",
      "--once",
      "--shape",
      "summary,worker",
      "--interval",
      "300ms",
    ]);
    assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
    const lines = parse(cli.stdout);
    assert.deepEqual(
      lines.map((l) => l.tag),
      ["uwsgi.summary", "uwsgi.worker", "uwsgi.worker"],
    );
    for (const { tag, record } of lines) {
      assert.equal(typeof record.requests_per_sec, "number", `${tag} has rates`);
      assert.equal(typeof record.interval_ms, "number", `${tag} has the measured interval`);
    }
  },
);

test("--help says that --once polls twice for rates", async (t) => {
  const cli = startCli(t, ["--help"]);
  assert.equal(await cli.exited, 0);
  assert.match(cli.stdout.join(" ").replace(/\s+/g, " "), /poll twice, one --interval apart/);
});

/** Runs the sidecar on `stats` with --stdout, one summary per 100 ms poll, until it printed `polls` of them. */
async function summaries(t: Parameters<typeof startCli>[0], stats: string, polls: number) {
  const cli = startCli(t, [
    "--stats",
    stats,
    "--stdout",
    "--shape",
    "summary",
    "--interval",
    "100ms",
    "--health-interval",
    "0",
  ]);
  await cli.waitForStdoutLines(polls);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0, cli.stderr.join("\n"));
  return { records: parse(cli.stdout).map((l) => l.record), stderr: cli.stderr };
}

const memoryWarning =
  /warn target .* every worker's rss is 0 after serving requests, 3 polls in a row: .*memory-report = true/;

testWithUwsgi(
  "a uWSGI without memory-report (rss 0 after serving requests) is warned about once, after 3 polls",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    await uwsgi.load(6);
    const { records, stderr } = await summaries(t, uwsgi.stats, 10);
    assert.ok(records.every((r) => r.rss === 0 && Number(r.requests) > 0));
    assert.equal(stderr.filter((l) => memoryWarning.test(l)).length, 1, stderr.join("\n"));
  },
);

testWithUwsgi("a uWSGI with memory-report (rss measured) gives no memory warning", async (t) => {
  const uwsgi = await startCliUwsgi(t, { extra: ["memory-report = true"] });
  await uwsgi.load(6);
  const { records, stderr } = await summaries(t, uwsgi.stats, 10);
  assert.ok(records.every((r) => Number(r.rss) > 0 && Number(r.requests) > 0));
  assert.deepEqual(
    stderr.filter((l) => /rss/.test(l)),
    [],
  );
});
