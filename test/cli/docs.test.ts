import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { helpText } from "../../src/cli/help.js";
import { SETTINGS } from "../../src/cli/config/settings.js";
import { VERSION } from "../../src/cli/version.js";
import { ForwardSink, InvalidOptionError, UwsgiStatsErrorCode, UwsgiStatsSource } from "../../src/index.js";
import { ROOT } from "../helpers/cli-process.js";

const doc = (name: string): string => readFileSync(join(ROOT, name), "utf8");

test("--version prints package.json's version", () => {
  const pkg = JSON.parse(doc("package.json")) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test("--help and docs/cli.md list every flag, environment variable, config key and default", () => {
  const help = helpText();
  const cli = doc("docs/cli.md");
  const rows = cli.split("\n").filter((line) => line.startsWith("| "));
  for (const setting of SETTINGS) {
    assert.ok(help.includes(setting.env), `help names ${setting.env}`);
    if (setting.flag) assert.ok(help.includes(setting.flag), `help names ${setting.flag}`);
    const row = rows.find((line) => line.includes(`\`${setting.env}\``));
    assert.ok(row, `docs/cli.md has a row for ${setting.env}`);
    const cells = row.split(/\s*\|\s*/).slice(1, -1);
    assert.equal(cells[0]?.startsWith(setting.flag ? `\`${setting.flag}` : "(none)"), true, row);
    assert.equal(cells[2], setting.inFile ? `\`${setting.key}\`` : "—", row);
    assert.equal(cells[3], setting.defaultText, `default of ${setting.key}`);
  }
});

function knownOptions(construct: () => unknown): string[] {
  try {
    construct();
  } catch (err) {
    assert.ok(err instanceof InvalidOptionError);
    const list = /known options are: (.*)$/.exec(err.message)?.[1] ?? "";
    return list.split(", ");
  }
  throw new Error("expected an INVALID_OPTION error");
}

test("docs/api.md documents every option of ForwardSink and UwsgiStatsSource", () => {
  const api = doc("docs/api.md");
  const sinkOptions = knownOptions(() => new ForwardSink({ bogus: 1 } as never));
  const sourceOptions = knownOptions(() => new UwsgiStatsSource({ targets: ["/x.sock"], bogus: 1 } as never));
  assert.ok(sinkOptions.length > 10 && sourceOptions.length > 5);
  for (const option of [...sinkOptions, ...sourceOptions]) {
    assert.match(api, new RegExp(`^\\| \`${option}\``, "m"), `docs/api.md has a row for ${option}`);
  }
});

test("docs/errors.md lists every error code of both subsystems and the CLI", () => {
  const errors = doc("docs/errors.md");
  const forwardCodes = [...doc("src/forward/errors.ts").matchAll(/"(FORWARD_[A-Z_]+)"/g)].map(
    (m) => m[1] as string,
  );
  assert.ok(forwardCodes.length >= 10);
  for (const code of [
    ...forwardCodes,
    ...Object.values(UwsgiStatsErrorCode),
    "INVALID_OPTION",
    "CLI_USAGE",
  ]) {
    assert.match(errors, new RegExp(`^\\| \`${code}\``, "m"), `docs/errors.md has a row for ${code}`);
  }
});

test("every relative link in the README and docs/ points at a file of the repository", () => {
  const pages = [
    "README.md",
    "docs/architecture.md",
    "docs/api.md",
    "docs/cli.md",
    "docs/operations.md",
    "docs/errors.md",
    "docs/metrics.md",
  ];
  // Pages other people write; they are linked before they land.
  const pending = new Set(["docs/records.md", "docs/reliability.md"]);
  for (const page of pages) {
    for (const [, target] of doc(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const path = join(dirname(page), target as string);
      if (pending.has(path) && !existsSync(join(ROOT, path))) continue;
      assert.ok(existsSync(join(ROOT, path)), `${page} links to ${target}, which exists`);
    }
  }
});

test("docs/api.md states UwsgiStatsSource's defaults as the source resolves them", () => {
  const api = doc("docs/api.md");
  const row = (option: string): string =>
    api.split("\n").find((line) => line.startsWith(`| \`${option}\``)) ?? "";
  const { options } = new UwsgiStatsSource({ targets: ["/x.sock"] });
  assert.match(row("intervalMs"), new RegExp(`\\| \`${options.intervalMs}\` `));
  assert.match(row("maxBytes"), new RegExp(`\\| \`${options.maxBytes}\` `));
  assert.match(row("concurrency"), new RegExp(`\\| \`${options.concurrency}\` `));
  assert.match(row("escapeKeys"), new RegExp(`\\| \`${options.escapeKeys}\` `));
  assert.match(row("vars"), new RegExp(`\\| \`"${options.vars}"\` `));
  assert.deepEqual([...options.shapes], ["raw"]);
  assert.equal(options.timeoutMs, 900, "90% of the 1 s default interval");
  assert.equal(new UwsgiStatsSource({ targets: ["/x.sock"], intervalMs: 60_000 }).options.timeoutMs, 5000);
  assert.equal(new UwsgiStatsSource({ targets: ["/x.sock"], intervalMs: 50 }).options.timeoutMs, 100);
  assert.equal(options.connectTimeoutMs, Math.min(options.timeoutMs, 1000));
});
