import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout ?? ""}${stderr ?? ""}`, { cause: error });
  }
}

test("the packed tarball installs and loads from ESM, CommonJS and TypeScript", { timeout: 180_000 }, (t) => {
  const work = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-pack-"));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  run("npm", ["pack", "--pack-destination", work, "--silent"], repoRoot);
  const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
  assert.ok(tarball, "npm pack produced no tarball");

  const project = path.join(work, "consumer");
  run("mkdir", ["-p", project], work);
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(work, tarball)], project);

  writeFileSync(
    path.join(project, "esm.mjs"),
    `import { ForwardSink, UwsgiStatsSource, EventTime, UwsgiForwardError } from "uwsgi-forward";
     console.log([typeof ForwardSink, typeof UwsgiStatsSource, typeof EventTime, typeof UwsgiForwardError].join(","));`,
  );
  writeFileSync(
    path.join(project, "cjs.cjs"),
    `const { ForwardSink, UwsgiStatsSource, EventTime, UwsgiForwardError } = require("uwsgi-forward");
     console.log([typeof ForwardSink, typeof UwsgiStatsSource, typeof EventTime, typeof UwsgiForwardError].join(","));`,
  );
  assert.equal(run("node", ["esm.mjs"], project).trim(), "function,function,function,function");
  assert.equal(run("node", ["cjs.cjs"], project).trim(), "function,function,function,function");

  writeFileSync(
    path.join(project, "types.mts"),
    `import { ForwardSink, UwsgiStatsSource, type ForwardItem } from "uwsgi-forward";
     const sink: ForwardSink = new ForwardSink({ port: 24224 });
     const item: ForwardItem = { tag: "a.b", record: { n: 1 } };
     const accepted: boolean = sink.send(item.tag, item.record);
     export { sink, accepted, UwsgiStatsSource };`,
  );
  writeFileSync(
    path.join(project, "types.cts"),
    `import { ForwardSink } from "uwsgi-forward";
     export const sink: ForwardSink = new ForwardSink();`,
  );
  const tscArgs = [
    "--noEmit",
    "--strict",
    "--module",
    "nodenext",
    "--moduleResolution",
    "nodenext",
    "--types",
    "node",
    "--typeRoots",
    path.join(repoRoot, "node_modules/@types"),
  ];
  run("node", [tsc, ...tscArgs, "types.mts", "types.cts"], project);

  const bin = run("node", [path.join(project, "node_modules/.bin/uwsgi-forward"), "--version"], project);
  assert.match(bin.trim(), /^\d+\.\d+\.\d+/);
});
