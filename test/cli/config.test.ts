import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliTempDir } from "../helpers/cli-temp.js";
import { generateForwardCerts } from "../helpers/forward-certs.js";
import { loadConfig, type SidecarConfig } from "../../src/cli/config/load.js";
import { CliUsageError } from "../../src/cli/errors.js";
import { run as runCli } from "../../src/cli/run.js";

function run(argv: string[], env: NodeJS.ProcessEnv = {}): SidecarConfig {
  const result = loadConfig(argv, env);
  assert.equal(result.kind, "run");
  return (result as { config: SidecarConfig }).config;
}

test("with no flags it polls /tmp/stat.sock every second and forwards raw records to 127.0.0.1:24224 as uwsgi.stats", () => {
  const config = run([]);
  assert.deepEqual(config.source.targets, ["/tmp/stat.sock"]);
  assert.equal(config.source.intervalMs, 1000);
  assert.deepEqual(config.source.shapes, ["raw"]);
  assert.equal(config.source.tags.raw, "uwsgi.stats");
  assert.deepEqual(config.sink.servers, [{ host: "127.0.0.1", port: 24224 }]);
  assert.equal(config.sink.requireAck, false);
  assert.equal(config.sink.bufferLimitBytes, 64 * 1024 * 1024);
  assert.equal(config.sink.overflow, "dropOldest");
  assert.equal(config.healthTag, "uwsgi.health");
  assert.equal(config.healthIntervalMs, 60_000);
  assert.equal(config.shutdownTimeoutMs, 10_000);
  assert.equal(config.logLevel, "info");
  assert.equal(config.stdout, false);
  assert.equal(config.once, false);
});

test("flags override the environment, which overrides the config file", (t) => {
  const dir = cliTempDir(t);
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    "interval: 5s\ntag-prefix: fromfile\nshape: [summary, worker]\nlog-level: debug\nrequire-ack: true\n",
  );
  const env = {
    UWSGI_FORWARD_CONFIG: file,
    UWSGI_FORWARD_INTERVAL: "2s",
    UWSGI_FORWARD_TAG_PREFIX: "fromenv",
  };
  const config = run(["--interval", "250ms"], env);
  assert.equal(config.source.intervalMs, 250, "flag wins over env and file");
  assert.equal(config.tagPrefix, "fromenv", "env wins over file");
  assert.equal(config.source.tags.summary, "fromenv.summary");
  assert.deepEqual(config.source.shapes, ["summary", "worker"], "file value used when nothing overrides it");
  assert.equal(config.logLevel, "debug");
  assert.equal(config.sink.requireAck, true);
  assert.equal(config.configFile, file);
});

test("a boolean from the file or the environment can be turned off by a flag", (t) => {
  const dir = cliTempDir(t);
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ "require-ack": true }));
  assert.equal(run(["--config", file, "--no-require-ack"]).sink.requireAck, false);
  assert.equal(run(["--no-require-ack"], { UWSGI_FORWARD_REQUIRE_ACK: "yes" }).sink.requireAck, false);
  assert.equal(run([], { UWSGI_FORWARD_REQUIRE_ACK: "on" }).sink.requireAck, true);
});

test("repeatable settings are replaced whole by a higher layer, not merged", (t) => {
  const dir = cliTempDir(t);
  const file = join(dir, "config.yaml");
  writeFileSync(file, "stats:\n  - /run/a.sock\n  - /run/b.sock\n");
  assert.deepEqual(run(["--config", file]).source.targets, ["/run/a.sock", "/run/b.sock"]);
  assert.deepEqual(
    run(["--config", file], { UWSGI_FORWARD_STATS: "/run/c.sock  /run/uwsgi/*.sock" }).source.targets,
    ["/run/c.sock", "/run/uwsgi/*.sock"],
  );
  assert.deepEqual(
    run(["--config", file, "--stats", "/x.sock", "--stats", "127.0.0.1:9191"]).source.targets,
    ["/x.sock", "127.0.0.1:9191"],
  );
});

test("forward servers take a weight, a standby mark, IPv6 brackets and unix sockets", () => {
  const config = run([
    "--forward",
    "10.0.0.1:24224,weight=30",
    "--forward",
    "[::1]:24225,standby",
    "--forward",
    "agg.example",
    "--forward-unix",
    "/run/td-agent.sock,standby",
  ]);
  assert.deepEqual(config.sink.servers, [
    { host: "10.0.0.1", port: 24224, weight: 30 },
    { host: "::1", port: 24225, standby: true },
    { host: "agg.example", port: 24224 },
    { path: "/run/td-agent.sock", standby: true },
  ]);
  assert.deepEqual(run(["--forward-unix", "/run/f.sock"]).sink.servers, [{ path: "/run/f.sock" }]);
});

test("shapes can be repeated or comma-separated, and duplicates collapse", () => {
  assert.deepEqual(run(["--shape", "summary,worker", "--shape", "summary"]).source.shapes, [
    "summary",
    "worker",
  ]);
  assert.deepEqual(run([], { UWSGI_FORWARD_SHAPE: "raw flat" }).source.shapes, ["raw", "flat"]);
});

test("secrets come from the environment or from files, with the trailing newline removed", (t) => {
  const dir = cliTempDir(t);
  writeFileSync(join(dir, "key"), "s3cret\n");
  writeFileSync(join(dir, "password"), "pw\n");
  const fromFiles = run([
    "--shared-key-file",
    join(dir, "key"),
    "--username",
    "fluent",
    "--password-file",
    join(dir, "password"),
  ]);
  assert.equal(fromFiles.sink.sharedKey, "s3cret");
  assert.equal(fromFiles.sink.username, "fluent");
  assert.equal(fromFiles.sink.password, "pw");
  const fromEnv = run([], {
    UWSGI_FORWARD_SHARED_KEY: "k2",
    UWSGI_FORWARD_USERNAME: "u",
    UWSGI_FORWARD_PASSWORD: "p2",
  });
  assert.equal(fromEnv.sink.sharedKey, "k2");
  assert.equal(fromEnv.sink.password, "p2");
});

test("a shared key given as a flag works but is warned about", () => {
  const result = loadConfig(["--shared-key", "visible"], {});
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.config.sink.sharedKey, "visible");
  assert.match(result.warnings[0] ?? "", /UWSGI_FORWARD_SHARED_KEY/);
});

test("TLS files are checked at load and given to every server by path, to be read again when renewed", (t) => {
  const dir = cliTempDir(t);
  const certs = generateForwardCerts();
  writeFileSync(join(dir, "ca.pem"), certs.ca);
  writeFileSync(join(dir, "cert.pem"), certs.clientCert);
  writeFileSync(join(dir, "key.pem"), certs.clientKey);
  const files = {
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "cert.pem"),
    keyFile: join(dir, "key.pem"),
  };
  const config = run([
    "--forward",
    "a:1",
    "--forward",
    "b:2",
    "--tls-ca",
    files.caFile,
    "--tls-cert",
    files.certFile,
    "--tls-key",
    files.keyFile,
  ]);
  for (const server of config.sink.servers) assert.deepEqual(server.tls, files);
  assert.deepEqual(run(["--tls"]).sink.servers[0]?.tls, {});
  assert.equal(run([]).sink.servers[0]?.tls, undefined);
  writeFileSync(join(dir, "bad.pem"), "not a certificate");
  assert.throws(() => run(["--tls-ca", join(dir, "bad.pem")]), {
    message: /^--tls-ca: expected PEM files that work together: .*no PEM certificate/,
  });
  assert.throws(() => run(["--tls-cert", files.certFile, "--tls-key", files.caFile]), {
    message: /^--tls-cert: expected PEM files that work together/,
  });
});

test("--help and --version are recognised before anything is validated", () => {
  assert.equal(loadConfig(["--interval", "bad", "--help"], {}).kind, "help");
  assert.equal(loadConfig(["-V"], {}).kind, "version");
});

test("durations, sizes and enums from every layer reach the options", () => {
  const config = run(
    [
      "--timeout",
      "750ms",
      "--escape-keys",
      "--max-bytes",
      "1MiB",
      "--buffer-limit",
      "8MiB",
      "--overflow",
      "block",
      "--vars",
      "drop",
    ],
    {
      UWSGI_FORWARD_HEALTH_INTERVAL: "0",
      UWSGI_FORWARD_SHUTDOWN_TIMEOUT: "3s",
      UWSGI_FORWARD_SELF_HOSTNAME: "web-1",
    },
  );
  assert.equal(config.source.timeoutMs, 750);
  assert.equal(config.source.escapeKeys, true);
  assert.equal(config.source.maxBytes, 1024 * 1024);
  assert.equal(config.sink.bufferLimitBytes, 8 * 1024 * 1024);
  assert.equal(config.sink.overflow, "block");
  assert.equal(config.source.vars, "drop");
  assert.equal(config.healthIntervalMs, 0);
  assert.equal(config.shutdownTimeoutMs, 3000);
  assert.equal(config.sink.selfHostname, "web-1");
});

test("every wrong value is one line naming where it was given and what it accepts", (t) => {
  const dir = cliTempDir(t);
  const yaml = join(dir, "bad.yaml");
  writeFileSync(yaml, "interval: soon\n");
  const unknownKey = join(dir, "unknown.yaml");
  writeFileSync(unknownKey, "intervall: 1s\n");
  const broken = join(dir, "broken.json");
  writeFileSync(broken, "{ not json");
  const list = join(dir, "list.yaml");
  writeFileSync(list, "- a\n- b\n");
  const malformed = join(dir, "malformed.yaml");
  writeFileSync(malformed, "interval: 1s: 2s\n");
  const empty = join(dir, "empty");
  writeFileSync(empty, "\n");
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [["--interval", "fast"], {}, /^--interval: expected a duration such as 500ms, 1s/],
    [
      ["--escape-keys=nah"],
      {},
      /^--escape-keys takes no value: write --escape-keys for true, --no-escape-keys/,
    ],
    [["--timeout", "10"], {}, /^--timeout: expected a duration/],
    [["--health-interval", "1d"], {}, /^--health-interval: expected a duration/],
    [["--shutdown-timeout=-1s"], {}, /^--shutdown-timeout: expected a duration/],
    [["--buffer-limit", "lots"], {}, /^--buffer-limit: expected a size such as 65536, 512KiB, 64MiB/],
    [["--log-level", "verbose"], {}, /^--log-level: expected one of error, warn, info, debug/],
    [["--forward", "a:1,weight=x"], {}, /^--forward: weight=N needs a whole number in "a:1,weight=x"/],
    [["--forward", "a:1,primary"], {}, /^--forward: unknown parameter "primary"/],
    [["--forward", "a b"], {}, /^--forward: not HOST:PORT/],
    [["--forward-unix", "relative.sock"], {}, /^--forward-unix: not an absolute path/],
    [["--require-ack=maybe"], {}, /^--require-ack takes no value/],
    [["--no-require-ack", "--require-ack"], {}, /^--require-ack and --no-require-ack contradict each other/],
    [["--interval"], {}, /^--interval: needs a value/],
    [["--interval=1s", "--interval", "2s"], {}, /^--interval: given twice/],
    [["--interval", "--once"], {}, /^--interval: needs a value/],
    [["--intervall", "1s"], {}, /^unknown flag --intervall; did you mean --interval\?/],
    [
      ["--password", "x"],
      {},
      /^unknown flag --password; give the password with --password-file or UWSGI_FORWARD_PASSWORD/,
    ],
    [["stats.sock"], {}, /^unexpected argument "stats.sock": every setting is a --flag/],
    [["--username", "u"], {}, /^--username: expected a user name together with a password/],
    [
      [],
      { UWSGI_FORWARD_PASSWORD: "p" },
      /^UWSGI_FORWARD_PASSWORD: expected a password together with --username/,
    ],
    [
      ["--password-file", join(dir, "missing")],
      {},
      /^--password-file: expected a readable file, but ".*missing" gives ENOENT/,
    ],
    [["--shared-key-file", empty], {}, /^--shared-key-file: expected a file that is not empty/],
    [
      ["--shared-key-file", empty],
      { UWSGI_FORWARD_SHARED_KEY: "k" },
      /^--shared-key-file: expected a file, or UWSGI_FORWARD_SHARED_KEY, but not both/,
    ],
    [["--tls-cert", empty], {}, /^--tls-cert: expected a PEM file given together with --tls-key/],
    [["--no-tls", "--tls-ca", empty], {}, /^--no-tls: expected true when --tls-ca/],
    [[], { UWSGI_FORWARD_INTERVAL: "soon" }, /^UWSGI_FORWARD_INTERVAL \(--interval\): expected a duration/],
    [[], { UWSGI_FORWARD_ONCE: "perhaps" }, /^UWSGI_FORWARD_ONCE \(--once\): expected true or false/],
    [["--config", yaml], {}, /^interval in .*bad\.yaml \(--interval\): expected a duration/],
    [
      ["--config", unknownKey],
      {},
      /^intervall in .*unknown\.yaml: unknown setting; did you mean interval\?$/,
    ],
    [["--config", broken], {}, /^--config: ".*broken\.json" is not valid JSON/],
    [["--config", list], {}, /^--config: ".*list\.yaml" must hold a mapping/],
    [
      ["--config", malformed],
      {},
      /^--config: ".*malformed\.yaml" is not valid YAML: Nested mappings are not allowed in compact mappings at line 1, column 11$/,
    ],
    [["--config", join(dir, "nope.yaml")], {}, /^--config: cannot read ".*nope\.yaml": ENOENT/],
  ];
  for (const [argv, env, message] of cases) {
    assert.throws(
      () => loadConfig(argv, env),
      (err: unknown) => {
        assert.ok(err instanceof CliUsageError, `${argv.join(" ")}: ${err}`);
        assert.equal(err.code, "CLI_USAGE");
        assert.doesNotMatch(err.message, /\n/);
        assert.match(err.message, message, argv.join(" "));
        return true;
      },
    );
  }
});

/** Runs the command's entry point in-process and returns its exit code and stderr (only for invalid input). */
async function usage(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const code = await runCli(argv, env, {
    stdout: { write: () => true, once: () => undefined },
    stderr: { write: (text: string) => (stderr += text) },
    exit: () => assert.fail("exit called"),
  });
  return { code, stderr };
}

test("ranges and allowed values are the library's, reported under the flag, variable or key they came from", async (t) => {
  const dir = cliTempDir(t);
  const file = join(dir, "c.yaml");
  writeFileSync(file, "buffer-limit: 10\n");
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      ["--interval", "5ms"],
      {},
      /^uwsgi-forward: --interval: Invalid option "intervalMs": expected an integer from 10 to 86400000, got 5 .*\(given "5ms"\)$/,
    ],
    [["--interval", "0"], {}, /^uwsgi-forward: --interval: Invalid option "intervalMs"/],
    [
      ["--timeout", "0"],
      {},
      /^uwsgi-forward: --timeout: Invalid option "timeoutMs": expected an integer >= 1/,
    ],
    [
      ["--max-bytes", "10"],
      {},
      /^uwsgi-forward: --max-bytes: Invalid option "maxBytes": expected an integer >= 64/,
    ],
    [
      ["--shape", "nested"],
      {},
      /^uwsgi-forward: --shape: Invalid option "shapes\[0\]": expected one of "raw", "summary", "worker", "flat", "socket", "app", "core", "cache", "spooler", "metric", got "nested"/,
    ],
    [
      ["--vars", "hide"],
      {},
      /^uwsgi-forward: --vars: Invalid option "vars": expected one of "redact", "keep", "drop"/,
    ],
    [["--overflow", "drop"], {}, /^uwsgi-forward: --overflow: Invalid option "overflow"/],
    [["--tag-prefix", "a/b"], {}, /^uwsgi-forward: --tag-prefix: Invalid option "tags.raw"/],
    [
      ["--field", "my-env=x"],
      {},
      /^uwsgi-forward: --field: Invalid option "fields.my-env": a label name must match/,
    ],
    [["--host-name", " "], {}, /^uwsgi-forward: --host-name: Invalid option "hostName"/],
    [
      ["--forward", "a:1", "--forward", "b:99999"],
      {},
      /^uwsgi-forward: --forward: Invalid option "servers\[1\].port": expected an integer from 1 to 65535, got 99999 \(given "b:99999"\)$/,
    ],
    [
      ["--forward", "a:1", "--forward-unix", "/x.sock,weight=0"],
      {},
      /^uwsgi-forward: --forward-unix: Invalid option "servers\[1\].weight": expected an integer from 1 to 1000000, got 0/,
    ],
    [
      [],
      { UWSGI_FORWARD_BUFFER_LIMIT: "10" },
      /^uwsgi-forward: UWSGI_FORWARD_BUFFER_LIMIT \(--buffer-limit\): Invalid option "bufferLimitBytes": expected an integer >= 1024/,
    ],
    [
      ["--config", file],
      {},
      /^uwsgi-forward: buffer-limit in .*c\.yaml \(--buffer-limit\): Invalid option "bufferLimitBytes"/,
    ],
  ];
  for (const [argv, env, message] of cases) {
    const { code, stderr } = await usage(argv, env);
    assert.equal(code, 2, `${argv.join(" ")}: ${stderr}`);
    assert.match(stderr.trim(), message, argv.join(" "));
    assert.equal(stderr.trim().split("\n").length, 1);
  }
});

test("a misspelt UWSGI_FORWARD_* variable is ignored with a warning naming the nearest", () => {
  const result = loadConfig([], {
    UWSGI_FORWARD_INTERVL: "2s",
    UWSGI_FORWARD_ZZZZZZZZ: "1",
    UWSGI_FORWARD_STATS: "/a.sock",
  });
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.config.source.intervalMs, 1000);
  assert.deepEqual(result.warnings, [
    "UWSGI_FORWARD_INTERVL is not a setting and is ignored; did you mean UWSGI_FORWARD_INTERVAL?",
    "UWSGI_FORWARD_ZZZZZZZZ is not a setting and is ignored (docs/cli.md lists every UWSGI_FORWARD_* variable)",
  ]);
});

test("flags are parsed by node:util parseArgs: --x=v, repeatable lists, -h and -V", () => {
  assert.deepEqual(run(["--stats=/a.sock", "--stats", "/b.sock", "--field=a=1"]).source.targets, [
    "/a.sock",
    "/b.sock",
  ]);
  assert.deepEqual(run(["--field=a=1", "--field", "b=x=y"]).source.fields, { a: "1", b: "x=y" });
  assert.equal(loadConfig(["-h"], {}).kind, "help");
  assert.equal(run(["--once", "--stdout"]).once, true);
});

test("the disk buffer settings reach the sink from flags and environment; without --buffer-path they are refused", () => {
  const config = run(
    ["--buffer-path", "/var/lib/uwsgi-forward", "--durability", "event", "--disk-limit", "2GiB"],
    {
      UWSGI_FORWARD_FSYNC: "true",
    },
  );
  assert.equal(config.sink.bufferPath, "/var/lib/uwsgi-forward");
  assert.equal(config.sink.durability, "event");
  assert.equal(config.sink.fsync, true);
  assert.equal(config.sink.diskLimitBytes, 2 * 1024 ** 3);
  const defaults = run(["--buffer-path", "/tmp/b"]);
  assert.equal(defaults.sink.durability, "frame");
  assert.equal(defaults.sink.fsync, false);
  assert.equal(defaults.sink.diskLimitBytes, 1024 ** 3);
  assert.equal(run([]).sink.bufferPath, undefined);
  assert.throws(() => run(["--durability", "event"]), /^.*--durability.*--buffer-path too/);
});

test("a --forward host that is no host name (a path, a 254-character name) is refused; 253 characters are fine", () => {
  for (const host of ["/run/fluentd.sock", "a".repeat(254), "fluentd/x", "flu entd"]) {
    assert.throws(
      () => loadConfig(["--forward", `${host}:24224`], {}),
      /--forward: not HOST:PORT in/,
      host.slice(0, 20),
    );
  }
  assert.equal(run(["--forward", `${"a".repeat(253)}:24224`]).sink.servers[0]?.host, "a".repeat(253));
  assert.equal(
    run(["--forward", "fluentd_1.example-x.net:1"]).sink.servers[0]?.host,
    "fluentd_1.example-x.net",
  );
});
