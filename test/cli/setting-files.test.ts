import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, ftruncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../../src/cli/config/load.js";
import { SETTING_FILE_MAX_BYTES } from "../../src/cli/config/setting-file.js";
import { CliUsageError } from "../../src/cli/errors.js";
import { runNorikra } from "../../src/cli/norikra/command.js";
import { run as runCli } from "../../src/cli/run.js";
import { startCli } from "../helpers/cli-process.js";
import { cliTempDir } from "../helpers/cli-temp.js";

/** Every setting that names a file the command reads, with the flags it needs to be read alone. */
const FILE_SETTINGS: readonly { flag: string; with: string[] }[] = [
  { flag: "--config", with: [] },
  { flag: "--shared-key-file", with: [] },
  { flag: "--username", with: [] },
  { flag: "--tls-ca", with: [] },
  { flag: "--tls-cert", with: [] },
  { flag: "--tls-key", with: [] },
];

/** Files that are not regular files of a sane size: each would block, never end or fill the memory. */
function hostileFiles(dir: string): { name: string; path: string; reason: RegExp }[] {
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  const huge = join(dir, "huge.yaml");
  const fd = openSync(huge, "w");
  ftruncateSync(fd, 3 * 1024 ** 3);
  closeSync(fd);
  const over = join(dir, "over.pem");
  writeFileSync(over, "a".repeat(SETTING_FILE_MAX_BYTES + 1));
  mkdirSync(join(dir, "directory"));
  return [
    { name: "/dev/zero", path: "/dev/zero", reason: /a character device, not a regular file/ },
    { name: "/dev/urandom", path: "/dev/urandom", reason: /a character device, not a regular file/ },
    { name: "a FIFO", path: fifo, reason: /a FIFO, not a regular file/ },
    { name: "a directory", path: join(dir, "directory"), reason: /a directory, not a regular file/ },
    { name: "a 3 GiB sparse file", path: huge, reason: /larger than the 1MiB limit/ },
    { name: "a file one byte over 1 MiB", path: over, reason: /larger than the 1MiB limit/ },
  ];
}

function argvFor(flag: string, path: string): string[] {
  return flag === "--username" ? ["--username", "u", "--password-file", path] : [flag, path];
}

test("every file a setting names must be a regular file of at most 1 MiB: a device, a FIFO, a directory or a larger file is a usage error naming the setting", (t) => {
  const files = hostileFiles(cliTempDir(t));
  for (const { flag } of FILE_SETTINGS) {
    const named = flag === "--username" ? "--password-file" : flag;
    for (const file of files) {
      assert.throws(
        () => loadConfig(argvFor(flag, file.path), {}),
        (err: unknown) => {
          assert.ok(err instanceof CliUsageError, `${named} ${file.name}: ${String(err)}`);
          assert.ok(err.message.startsWith(`${named}: `), err.message);
          assert.match(err.message, file.reason, `${named} ${file.name}`);
          return true;
        },
      );
    }
  }
});

test("a setting's file of exactly 1 MiB is read", (t) => {
  const dir = cliTempDir(t);
  const key = join(dir, "key");
  writeFileSync(key, "k".repeat(SETTING_FILE_MAX_BYTES));
  const result = loadConfig(["--shared-key-file", key], {});
  assert.equal(result.kind === "run" && result.config.sink.sharedKey?.length, SETTING_FILE_MAX_BYTES);
});

test("the file named by UWSGI_FORWARD_CONFIG is held to the same rule", () => {
  assert.throws(
    () => loadConfig([], { UWSGI_FORWARD_CONFIG: "/dev/zero" }),
    /UWSGI_FORWARD_CONFIG \(--config\): cannot read "\/dev\/zero": a character device, not a regular file$/,
  );
});

test("norikra --queries refuses a device, a FIFO, a directory or a larger file with exit 2 naming the file", async (t) => {
  for (const file of hostileFiles(cliTempDir(t))) {
    let stderr = "";
    const code = await runNorikra(["--norikra", "127.0.0.1:9", "--queries", file.path], {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (stderr += text) },
      stopped: new Promise(() => {}),
    });
    assert.equal(code, 2, `${file.name}: ${stderr}`);
    assert.match(stderr, file.reason, file.name);
  }
});

test("the sidecar given --config /dev/zero exits 2 at once with one line naming --config", async (t) => {
  const cli = startCli(t, ["--config", "/dev/zero", "--stdout", "--once"]);
  const killer = setTimeout(() => cli.child.kill("SIGKILL"), 20_000);
  const code = await cli.exited;
  clearTimeout(killer);
  assert.equal(code, 2, cli.stderr.join("\n"));
  assert.deepEqual(cli.stderr.filter(Boolean), [
    'uwsgi-forward: --config: cannot read "/dev/zero": a character device, not a regular file',
  ]);
});

test("a YAML tag the command does not know is refused in its own words, with no warning of the yaml package", (t) => {
  const dir = cliTempDir(t);
  const file = join(dir, "tagged.yaml");
  writeFileSync(file, "interval: 1s\nstats: !custom x\n");
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  assert.throws(
    () => loadConfig(["--config", file], {}),
    (err: unknown) => {
      assert.ok(err instanceof CliUsageError);
      assert.match(
        err.message,
        /^--config: ".*tagged\.yaml" is not valid YAML: line 2, column 8: unknown tag "!custom" \(a config file holds plain values, lists and mappings, with no tags\)$/,
      );
      return true;
    },
  );
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      assert.deepEqual(warnings, []);
      resolve();
    }),
  );
});

test("a 100 KB bad value is cut in the usage line, whichever setting it is given to", async () => {
  const big = `/${"x".repeat(100_000)}`;
  for (const argv of [
    ["--stats", big.slice(1)],
    ["--interval", big],
    ["--forward", big],
    ["--overflow", big],
    [`--${big.slice(1)}`],
    [big],
  ]) {
    let stderr = "";
    const code = await runCli(
      argv,
      {},
      {
        stdout: { write: () => true, once: () => undefined },
        stderr: { write: (text: string) => (stderr += text) },
        exit: () => assert.fail("exit called"),
      },
    );
    assert.equal(code, 2, argv[0]?.slice(0, 20));
    assert.ok(stderr.length < 1000, `${argv[0]?.slice(0, 20)}: ${stderr.length} characters`);
    assert.match(stderr, /… \(10000[0-2] characters\)/);
  }
});
