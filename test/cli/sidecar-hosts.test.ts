import assert from "node:assert/strict";
import { test } from "node:test";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";

interface Line {
  tag: string;
  record: Record<string, unknown>;
}

const parse = (lines: string[]): Line[] => lines.filter((l) => l !== "").map((l) => JSON.parse(l) as Line);

test("--host-name and --field label every record, the health record included", async (t) => {
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
