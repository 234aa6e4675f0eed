import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/cli/config/load.js";
import { SETTINGS } from "../../src/cli/config/settings.js";
import { CliUsageError } from "../../src/cli/errors.js";
import { Logger } from "../../src/cli/log.js";
import { Sidecar } from "../../src/cli/sidecar.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { fuzzCases, type Rng } from "../helpers/fuzz.js";

// A seeded fuzzer over the command's settings: flags, UWSGI_FORWARD_* variables and config files (YAML and JSON),
// with values good, bad, huge, binary, multi-line, and YAML that tags, anchors, nests and breaks. Whatever is given,
// reading it (and making the source and the sink of it, as the sidecar does before it starts) either succeeds or
// is one CliUsageError line of bounded length: no other exception, no multi-line message, no 100 KB echo.

const MAX_MESSAGE = 1000;

function hostileText(random: Rng): string {
  switch (random.int(14)) {
    case 0:
      return "x".repeat(random.int(200_000));
    case 1:
      return random.bytes(random.int(64)).toString("latin1");
    case 2:
      return "line one\nline two\r\n\u0000\u001b[31m";
    case 3:
      return random.pick(["", " ", "-", "--", "=", ",", ":", "[", "{", "!", "&a", "*a", "~", "null"]);
    case 4:
      return random.pick(["1s", "0", "-1s", "1e400ms", "1.5.2s", "99999999999999999999h", "NaNs", "500ms"]);
    case 5:
      return random.pick(["64MiB", "0", "-1", "1e30GiB", "9007199254740993", "12 KiB", "1.5KB"]);
    case 6:
      return random.pick([
        "127.0.0.1:24224",
        "[::1]:1",
        "host:0",
        "host:99999",
        "a:1,weight=x",
        "a:1,standby,weight=0",
      ]);
    case 7:
      return random.pick([
        "/tmp/stat.sock",
        "unix:///x",
        "http://127.0.0.1:1/",
        "tcp://h:1",
        "/run/*.sock",
        "**",
      ]);
    case 8:
      return random.pick(["raw", "summary,worker", "flat,flat", "RAW", "raw,"]);
    case 9:
      return random.pick(["true", "false", "yes", "On", "2", "truee"]);
    case 10:
      return random.pick(["dropOldest", "block", "drop", "debug", "keep", "redact"]);
    case 11:
      return random.pick(["/dev/zero", "/dev/null", "/", "/etc/hostname", "/nonexistent", "relative.pem"]);
    case 12:
      return "é✓\u{1F600}".repeat(1 + random.int(50));
    default:
      return `${random.pick(["env", "a", "_x", "1a", "k k"])}=${random.pick(["v", "", "=", "\n"])}`;
  }
}

function settingKey(random: Rng): string {
  const keys = SETTINGS.map((s) => s.key);
  switch (random.int(6)) {
    case 0:
      return keys[random.int(keys.length)]!.slice(1);
    case 1:
      return hostileText(random).slice(0, 300);
    default:
      return random.pick(keys);
  }
}

/** A YAML value: a scalar, a list, a mapping, or YAML's own hostile forms. */
function yamlValue(random: Rng, depth = 0): string {
  switch (random.int(depth > 1 ? 6 : 10)) {
    case 0:
      return JSON.stringify(hostileText(random));
    case 1:
      return random.pick([
        "!custom x",
        "!!binary aGVsbG8=",
        "!!set {a}",
        "!!timestamp 2001-12-14",
        "!!float .inf",
      ]);
    case 2:
      return random.pick(["&a [1, 2]", "*a", "*missing", "<<: {a: 1}", "? complex\n: key"]);
    case 3:
      return random.pick(["1e400", "0x1F", "0o17", "-.inf", ".nan", "~", "null", "true", "12:30:45"]);
    case 4:
      return "{ unclosed: [1, 2";
    case 5:
      return hostileText(random).replace(/\n/g, " ").slice(0, 2000);
    case 6:
      return `[${Array.from({ length: random.int(5) }, () => yamlValue(random, depth + 1)).join(", ")}]`;
    default:
      return `{ a: ${yamlValue(random, depth + 1)} }`;
  }
}

function configFile(random: Rng, dir: string, seed: number): string {
  const json = random.int(3) === 0;
  const path = join(dir, `c${seed}.${json ? "json" : "yaml"}`);
  const lines = Array.from({ length: random.int(6) }, () => [settingKey(random), yamlValue(random)] as const);
  if (json) {
    const body =
      random.int(4) === 0
        ? hostileText(random)
        : JSON.stringify(Object.fromEntries(lines.map(([k, v]) => [k, v])));
    writeFileSync(path, body);
  } else {
    writeFileSync(
      path,
      random.int(5) === 0 ? hostileText(random) : lines.map(([k, v]) => `${k}: ${v}`).join("\n"),
    );
  }
  return path;
}

function settings(random: Rng, dir: string, seed: number): { argv: string[]; env: NodeJS.ProcessEnv } {
  const argv: string[] = [];
  const env: NodeJS.ProcessEnv = {};
  for (let i = random.int(5); i > 0; i--) {
    const spec = random.pick(SETTINGS);
    const value = hostileText(random);
    switch (random.int(5)) {
      case 0:
        argv.push(`--${settingKey(random)}`, value);
        break;
      case 1:
        argv.push(`${spec.flag ?? "--password"}=${value}`);
        break;
      case 2:
        env[spec.env] = value;
        break;
      case 3:
        env[`UWSGI_FORWARD_${settingKey(random).toUpperCase()}`] = value;
        break;
      default:
        argv.push(random.pick([value, "-h", "-V", "--no-tls", "--tls", "--once"]));
    }
  }
  if (random.int(2) === 0) argv.push("--config", configFile(random, dir, seed));
  return { argv, env };
}

function assertUsageError(err: unknown, what: string): void {
  assert.ok(err instanceof CliUsageError, `${what}: ${err instanceof Error ? err.stack : String(err)}`);
  assert.doesNotMatch(err.message, /[\n\r]/, `${what}: one line`);
  assert.ok(
    err.message.length <= MAX_MESSAGE,
    `${what}: ${err.message.length} characters: ${err.message.slice(0, 200)}`,
  );
}

test("fuzz: whatever the flags, the environment and the config file say, the command reads them or refuses them in one short line", async (t) => {
  const dir = cliTempDir(t);
  // Relative paths among the fuzzed values (a --buffer-path of "raw", say) are made, and locked, here: not in the
  // repository.
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const io = {
    logger: new Logger("error", { write: () => true }),
    stdout: { write: () => true, once: () => undefined },
    fatal: () => assert.fail("fatal called"),
  };
  const cases = await fuzzCases(
    "settings",
    (random, seed) => {
      const { argv, env } = settings(random, dir, seed);
      const what = JSON.stringify({ argv, env }).slice(0, 500);
      let loaded;
      try {
        loaded = loadConfig(argv, env);
      } catch (err) {
        assertUsageError(err, what);
        return;
      }
      if (loaded.kind !== "run") return;
      for (const warning of loaded.warnings) {
        assert.ok(warning.length <= MAX_MESSAGE, `${what}: a warning of ${warning.length} characters`);
      }
      try {
        new Sidecar(loaded.config, io);
      } catch (err) {
        assertUsageError(err, what);
      }
    },
    50,
  );
  t.diagnostic(`${cases} cases`);
  assert.deepEqual(
    warnings.map((w) => w.message),
    [],
    "no process warning (the yaml package's YAMLWarning)",
  );
});
