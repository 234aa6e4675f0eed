import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/cli-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

const lines = (file: string): string[] => readFileSync(join(ROOT, file), "utf8").trim().split("\n");

test("the README's two commands are bash scripts/demo.sh and bash scripts/test.sh, with the two test commands they end in", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.match(readme, /^bash scripts\/demo\.sh$/m);
  assert.match(readme, /^bash scripts\/test\.sh$/m);
  assert.match(readme, /^npm test$/m);
  assert.match(readme, /^UWSGI_FORWARD_PEERS=\S+ npm run test:interop$/m);
  assert.deepEqual(lines("scripts/test.sh").slice(-3), [
    "bash scripts/setup.sh",
    "npm test",
    "npm run test:interop",
  ]);
  assert.equal(lines("scripts/demo.sh").at(-1), "exec bash scripts/demo-route.sh");
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.demo, "bash scripts/demo.sh");
});

test(".ci/run runs the README's test command, then the real peers' setup and the real-peer suite against ../shared/peers", () => {
  const ci = lines(".ci/run");
  assert.deepEqual(ci.slice(-4), [
    "bash scripts/test.sh",
    "bash ../shared/peers/setup.sh",
    'peers="$(cd ../shared/peers && pwd)"',
    'UWSGI_FORWARD_PEERS="$peers" npm run test:interop',
  ]);
});

test("the README's quick start runs the command from a clone as npx uwsgi-forward: the package's bin, built by npm ci", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.match(readme, /from a clone \(after `npm ci`, which builds it\) run\s+it as `npx uwsgi-forward`/);
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    bin: Record<string, string>;
    scripts: Record<string, string>;
    version: string;
  };
  // npx in the package's own folder runs its bin; npm ci runs `prepare`, which builds it.
  assert.equal(pkg.bin["uwsgi-forward"], "./dist/esm/cli/main.js");
  assert.equal(pkg.scripts.prepare, "npm run build");
  const bin = join(ROOT, pkg.bin["uwsgi-forward"]);
  assert.match(readFileSync(bin, "utf8"), /^#!\/usr\/bin\/env node\n/);
  const version = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
  assert.equal(version.stdout.trim(), pkg.version, version.stderr);
});

testWithUwsgi(
  "the demo (scripts/demo-route.sh, what bash scripts/demo.sh runs once uWSGI and npm packages are there), from a clean clone, shows records arriving and cleans up",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "uwsgi-forward-clone-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const clone = join(dir, "repo");
    const clonedOk = spawnSync("git", ["clone", "--quiet", ROOT, clone], { encoding: "utf8" });
    assert.equal(clonedOk.status, 0, clonedOk.stderr);
    symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
    const scratch = join(dir, "tmp");
    mkdirSync(scratch);
    const demo = spawn("bash", ["scripts/demo-route.sh"], {
      cwd: clone,
      env: { ...process.env, DEMO_SECONDS: "3", TMPDIR: scratch },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    demo.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    t.after(() => {
      if (demo.exitCode === null) demo.kill("SIGKILL");
    });
    const [code] = (await once(demo, "exit")) as [number | null];
    assert.equal(code, 0, output);
    assert.match(output, /^receiver: uwsgi\.summary .*"requests":\d+/m);
    assert.match(output, /^receiver: uwsgi\.worker /m);
    assert.match(output, /^receiver: uwsgi\.health /m);
    assert.match(output, /stopped: delivered everything \((\d+) events sent, \1 acknowledged\)/);
    assert.match(output, /^receiver: received \d+ events: /m);
    assert.match(output, /^demo: done/m);
    assert.deepEqual(readdirSync(scratch), [], "the demo removed its temp dir");
  },
);

// Where uWSGI is installed, scripts/setup.sh installs nothing but the npm packages (an npm stand-in here).
testWithUwsgi(
  "bash .ci/run, from a clean clone, runs scripts/test.sh (npm ci, npm test, the real-peer suite skipped), then the peers' setup and the real-peer suite",
  (t) => {
    // The real suites cannot run themselves here; an npm stand-in on PATH records what .ci/run asks of npm, and a
    // peers setup.sh stand-in beside the clone (where CI has ../shared) records that it ran.
    const dir = mkdtempSync(join(tmpdir(), "uwsgi-forward-clone-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const clone = join(dir, "repo");
    assert.equal(spawnSync("git", ["clone", "--quiet", ROOT, clone]).status, 0);
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const calls = join(dir, "npm-calls");
    writeFileSync(join(bin, "npm"), `#!/bin/sh\necho "$UWSGI_FORWARD_PEERS $*" >> "${calls}"\n`, {
      mode: 0o755,
    });
    const peers = join(dir, "shared", "peers");
    mkdirSync(peers, { recursive: true });
    writeFileSync(join(peers, "setup.sh"), `echo setup >> "${calls}"\n`);
    const run = spawnSync("bash", [".ci/run"], {
      cwd: clone,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, UWSGI_FORWARD_PEERS: "/elsewhere" },
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    const npmCalls = readFileSync(calls, "utf8").trim().split("\n");
    assert.match(npmCalls[0] ?? "", /^\s*ci\b/, "npm ci first (scripts/setup.sh)");
    assert.deepEqual(npmCalls.slice(1), [" test", " run test:interop", "setup", `${peers} run test:interop`]);
  },
);
