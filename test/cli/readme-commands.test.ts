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

test("the README's two set-up commands are bash scripts/demo.sh and bash .ci/run, and .ci/run ends with its two test commands", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.match(readme, /^bash scripts\/demo\.sh$/m);
  assert.match(readme, /^bash \.ci\/run$/m);
  assert.match(readme, /^npm test$/m);
  assert.match(readme, /^UWSGI_FORWARD_PEERS=\S+ npm run test:interop$/m);
  const ci = readFileSync(join(ROOT, ".ci/run"), "utf8").trim().split("\n");
  assert.equal(ci.at(-2), "npm test");
  assert.ok(ci.includes('peers="$(cd ../shared/peers && pwd)"'));
  assert.match(ci.at(-1) ?? "", /^UWSGI_FORWARD_PEERS=\S+ npm run test:interop$/);
  assert.ok(ci.includes("bash scripts/setup.sh"));
  assert.ok(ci.includes("bash ../shared/peers/setup.sh"));
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.demo, "bash scripts/demo.sh");
});

test("bash scripts/demo.sh, run from a clean clone, shows records arriving at the receiver and cleans up", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "uwsgi-forward-clone-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clone = join(dir, "repo");
  const clonedOk = spawnSync("git", ["clone", "--quiet", ROOT, clone], { encoding: "utf8" });
  assert.equal(clonedOk.status, 0, clonedOk.stderr);
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
  const scratch = join(dir, "tmp");
  mkdirSync(scratch);
  const demo = spawn("bash", ["scripts/demo.sh"], {
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
});

test("bash .ci/run, from a clean clone, installs what is missing, then runs npm test and the real-peer suite", (t) => {
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
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  const npmCalls = readFileSync(calls, "utf8").trim().split("\n");
  assert.match(npmCalls[0] ?? "", /^\s*ci\b/, "npm ci first (scripts/setup.sh)");
  assert.deepEqual(npmCalls.slice(1), ["setup", " test", `${peers} run test:interop`]);
});
