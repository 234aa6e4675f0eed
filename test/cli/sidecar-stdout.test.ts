import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliTempDir } from "../helpers/cli-temp.js";
import { startCli } from "../helpers/cli-process.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

interface Line {
  tag: string;
  time: number;
  record: Record<string, unknown>;
}

const parse = (lines: string[]): Line[] => lines.filter((l) => l !== "").map((l) => JSON.parse(l) as Line);

testWithUwsgi("--stdout prints JSON lines of exactly what would be sent, and sends nothing", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  const receiver = await startCliReceiver(t);
  await uwsgi.load(20);
  const cli = startCli(t, [
    "--stdout",
    "--stats",
    uwsgi.stats,
    "--forward",
    `127.0.0.1:${receiver.port}`,
    "--shape",
    "summary,worker",
    "--interval",
    "200ms",
  ]);
  await cli.waitForStdoutLines(6);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  const lines = parse(cli.stdout);
  const summaries = lines.filter((l) => l.tag === "uwsgi.summary");
  const workers = lines.filter((l) => l.tag === "uwsgi.worker");
  assert.ok(summaries.length >= 2, `summaries: ${summaries.length}`);
  assert.equal(workers.length, summaries.length * 2, "two workers per poll");
  for (const line of lines) {
    assert.equal(typeof line.time, "number");
    assert.ok(Math.abs(line.time * 1000 - Date.now()) < 60_000, "time is epoch seconds");
  }
  const summary = summaries[0]?.record ?? {};
  assert.equal(summary.target, uwsgi.stats);
  assert.equal(summary.workers, 2);
  assert.ok((summary.requests as number) >= 20, `requests ${summary.requests}`);
  assert.equal(receiver.events.length, 0, "nothing reached the forward server");
  assert.ok(!cli.stderr.some((l) => /connected to/.test(l)), "no connection was made");
});

testWithUwsgi("--once polls every target (a glob) once, prints its records and exits 0", async (t) => {
  const uwsgi = await startCliUwsgi(t);
  // A glob, expanded at the poll: the temp dir also holds uWSGI's HTTP socket, which must not match.
  const cli = startCli(t, [
    "--once",
    "--stdout",
    "--stats",
    join(uwsgi.dir, "stat*.sock"),
    "--shape",
    "raw,summary",
  ]);
  assert.equal(await cli.exited, 0);
  const lines = parse(cli.stdout);
  assert.deepEqual(
    lines.map((l) => l.tag),
    ["uwsgi.stats", "uwsgi.summary"],
  );
  const raw = lines[0]?.record ?? {};
  assert.ok(Array.isArray(raw.workers), "the raw document keeps its nesting");
  assert.equal((raw.workers as unknown[]).length, 2);
});

test("--once with a missing target prints its error record and exits 1", async (t) => {
  const dir = cliTempDir(t);
  const missing = join(dir, "gone.sock");
  const cli = startCli(t, ["--once", "--stdout", "--stats", missing]);
  assert.equal(await cli.exited, 1);
  const [line] = parse(cli.stdout);
  assert.equal(line?.tag, "uwsgi.error");
  assert.equal(line?.record.target, missing);
  assert.equal(line?.record.code, "UWSGI_STATS_NOT_FOUND");
});

testWithUwsgi(
  "a target that fails for many polls is logged once, and once more when it comes back",
  async (t) => {
    const dir = cliTempDir(t);
    const stats = join(dir, "later.sock");
    const cli = startCli(t, ["--stdout", "--stats", stats, "--interval", "100ms", "--health-interval", "0"]);
    await cli.waitForStdoutLines(5);
    assert.equal(parse(cli.stdout).filter((l) => l.tag === "uwsgi.error").length >= 5, true);
    await startCliUwsgi(t, { stats });
    await cli.waitForLog(/target .*later\.sock recovered after \d+ failed polls/);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    const failing = cli.stderr.filter((l) => /later\.sock failing: UWSGI_STATS_NOT_FOUND/.test(l));
    assert.equal(failing.length, 1, cli.stderr.join("\n"));
    assert.equal(cli.stderr.filter((l) => /recovered/.test(l)).length, 1);
    assert.ok(parse(cli.stdout).some((l) => l.tag === "uwsgi.stats" && l.record.target === stats));
  },
);

test("wrong values exit with code 2 and one line on stderr, from flags, env and files alike; --help and -V exit 0", async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [["--interval", "soon"], {}, /^uwsgi-forward: --interval: expected a duration/],
    [
      [],
      { UWSGI_FORWARD_OVERFLOW: "spill" },
      /^uwsgi-forward: UWSGI_FORWARD_OVERFLOW \(--overflow\): Invalid option "overflow": expected one of/,
    ],
    [["--config", "/nonexistent/uwsgi-forward.yaml"], {}, /^uwsgi-forward: --config: cannot read/],
    [
      ["--stats", "ftp://host/stats"],
      {},
      /^uwsgi-forward: --stats: Invalid option "targets\[0\]": unsupported scheme/,
    ],
    // --stdout sends nothing, but checks the forward settings as a run without it would (docs/cli.md).
    [
      ["--stdout", "--once", "--forward", "127.0.0.1:1,weight=2000000"],
      {},
      /^uwsgi-forward: --forward: Invalid option "servers\[0\]\.weight": expected an integer from 1 to 1000000/,
    ],
  ];
  const help = startCli(t, ["--help"]);
  const version = startCli(t, ["-V"]);
  await Promise.all(
    cases.map(async ([argv, env, message]) => {
      const cli = startCli(t, argv, env);
      assert.equal(await cli.exited, 2, argv.join(" "));
      const lines = cli.stderr.filter((l) => l !== "");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0] ?? "", message);
    }),
  );
  assert.equal(await help.exited, 0);
  assert.ok(help.stdout.some((l) => l.includes("--stats ADDRESS")));
  assert.equal(await version.exited, 0);
  assert.match(version.stdout[0] ?? "", /^\d+\.\d+\.\d+$/);
});

testWithUwsgi(
  "a stats socket the sidecar's user may not open (chmod-socket = 600) is reported with EACCES and what to change",
  async (t) => {
    const uwsgi = await startCliUwsgi(t, { extra: ["chmod-socket = 600"] });
    // uWSGI applies chmod-socket to its stats socket too: only its owner may connect. Root may open any socket, so
    // as root the sidecar runs as nobody; as any other user, the socket is made unwritable for its owner as well.
    const root = process.getuid?.() === 0;
    if (root) chmodSync(uwsgi.dir, 0o755);
    else chmodSync(uwsgi.stats, 0o000);
    const cli = startCli(t, ["--stdout", "--once", "--stats", uwsgi.stats], {}, root ? { uid: 65534 } : {});
    assert.equal(await cli.exited, 1, cli.stderr.join("\n"));
    const line =
      cli.stderr.find((l) => /failing: UWSGI_STATS_CONNECT_FAILED/.test(l)) ?? cli.stderr.join("\n");
    assert.match(
      line,
      /no permission to connect to .*stats\.sock \(EACCES\): .*chmod-socket.*the socket's group/,
    );
    const record = parse(cli.stdout).find((l) => l.tag === "uwsgi.error")?.record;
    assert.equal(record?.code, "UWSGI_STATS_CONNECT_FAILED");
  },
);
