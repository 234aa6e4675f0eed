// The package from the outside: a plain clone of the committed HEAD (nothing beside it), `npm pack` there, the
// tarball installed into a scratch app without `yaml`, then used as an app would: ESM, CommonJS, TypeScript, bin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./helpers/cli-process.js";
import { startCliReceiver } from "./helpers/cli-receiver.js";
import { startCliUwsgi } from "./helpers/cli-uwsgi.js";
import { testWithUwsgi } from "./helpers/uwsgi-installed.js";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

/** The environment of every child: ours, without what `npm test` adds for its own package (npm_package_*, ...). */
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) =>
      !key.startsWith("UWSGI_FORWARD_") &&
      (!/^npm_/i.test(key) || /^npm_config_(cache|userconfig|globalconfig|registry)$/i.test(key)),
  ),
);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (4 minutes at most) and resolves with its exit code and output. */
function outcome(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: { ...childEnv, ...env }, encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed; resolves with its stdout, or rejects with everything it printed. */
async function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const result = await outcome(command, args, cwd, env);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

interface PackedFile {
  path: string;
  size: number;
}

testWithUwsgi(
  "a plain clone packs a tarball that installs and works from ESM, CommonJS, TypeScript and its bin",
  { timeout: 480_000 },
  async (t) => {
    const started = Date.now();
    const work = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-package-"));
    t.after(() => rmSync(work, { recursive: true, force: true }));

    // A clone of the committed HEAD, alone in its folder: no ../shared, no node_modules but its own.
    const clone = path.join(work, "clone", "uwsgi-forward");
    await run("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone], work);
    assert.equal(existsSync(path.join(clone, "..", "shared")), false);
    if ((await run("git", ["status", "--porcelain", "--untracked-files=no"], ROOT)).trim() !== "") {
      t.diagnostic("the checkout has uncommitted changes: this test packs the committed HEAD, without them");
    }
    await run("npm", ["ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], clone);
    const packed = JSON.parse(await run("npm", ["pack", "--json", "--pack-destination", work], clone)) as {
      filename: string;
      version: string;
      entryCount: number;
      size: number;
      unpackedSize: number;
      files: PackedFile[];
    }[];
    const tarball = packed[0];
    assert.ok(tarball, "npm pack reported no tarball");
    t.diagnostic(
      `tarball: ${tarball.entryCount} files, ${tarball.size} bytes packed, ${tarball.unpackedSize} unpacked`,
    );

    // A scratch app with the tarball installed and `yaml` taken away: the library must not need it.
    const app = path.join(work, "app");
    mkdirSync(app);
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true }) + "\n");
    await run(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(work, tarball.filename)],
      app,
    );
    rmSync(path.join(app, "node_modules", "yaml"), { recursive: true, force: true });
    const bin = path.join(app, "node_modules", ".bin", "uwsgi-forward");

    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);

    await t.test(
      "the tarball holds both builds, LICENSE, CHANGELOG.md, docs and examples, and no source maps",
      () => {
        const files = tarball.files.map((file) => file.path);
        for (const expected of [
          "package.json",
          "README.md",
          "LICENSE",
          "CHANGELOG.md",
          "dist/esm/index.js",
          "dist/esm/index.d.ts",
          "dist/esm/cli/main.js",
          "dist/cjs/index.js",
          "dist/cjs/index.d.ts",
          "dist/cjs/package.json",
          "docs/api.md",
          "docs/cli.md",
          "examples/uwsgi-forward.service",
          "examples/td-agent.conf",
        ]) {
          assert.ok(files.includes(expected), `${expected} is missing from the tarball`);
        }
        assert.deepEqual(
          files.filter((file) => /\.map$|^(src|test|bench|scripts|node_modules)\/|^\.|\/\./.test(file)),
          [],
          "no source maps, sources, tests or dot files",
        );
        assert.deepEqual(
          files.filter((file) => file.startsWith("dist/cjs/cli/")),
          [],
          "the CommonJS build is the library only",
        );
      },
    );

    await t.test(
      "importing it from ESM loads no CLI module and no yaml, and a poll reaches a receiver",
      async () => {
        writeFileSync(
          path.join(app, "trace-hooks.mjs"),
          `import { appendFileSync } from "node:fs";
       export async function load(url, context, next) {
         appendFileSync(process.env.TRACE_FILE, url + "\\n");
         return next(url, context);
       }`,
        );
        writeFileSync(
          path.join(app, "trace.mjs"),
          `import { register } from "node:module";
       register("./trace-hooks.mjs", import.meta.url);`,
        );
        writeFileSync(
          path.join(app, "esm.mjs"),
          `import { ForwardSink, UwsgiStatsSource } from "uwsgi-forward";
       const source = new UwsgiStatsSource({ targets: [process.env.STATS], shapes: ["summary"] });
       const items = await source.poll();
       await source.stop();
       const sink = new ForwardSink({ host: "127.0.0.1", port: Number(process.env.PORT), requireAck: true });
       for (const item of items) sink.send("package.esm", item.record, item.time);
       await sink.close({ timeoutMs: 10000 });
       console.log(items.length);`,
        );
        const trace = path.join(app, "esm-trace.txt");
        const env = { STATS: uwsgi.stats, PORT: String(receiver.port), TRACE_FILE: trace };
        assert.equal((await run("node", ["--import", "./trace.mjs", "esm.mjs"], app, env)).trim(), "1");
        const loaded = readFileSync(trace, "utf8").trim().split("\n");
        assert.ok(
          loaded.some((url) => url.includes("/node_modules/uwsgi-forward/dist/esm/index.js")),
          loaded.join("\n"),
        );
        assert.deepEqual(
          loaded.filter((url) => url.includes("/dist/esm/cli/") || url.includes("/node_modules/yaml/")),
          [],
        );
        await receiver.waitFor(
          (events) => events.some((e) => e.tag === "package.esm"),
          "the ESM app's record",
        );
        const record = receiver.events.find((e) => e.tag === "package.esm")?.record;
        assert.equal(record?.target, uwsgi.stats);
        assert.equal(record?.workers, 2);
      },
    );

    await t.test(
      "requiring it from CommonJS loads no yaml, and a record sent reaches a receiver",
      async () => {
        writeFileSync(
          path.join(app, "cjs.cjs"),
          `const { ForwardSink, UwsgiStatsSource } = require("uwsgi-forward");
       const sink = new ForwardSink({ host: "127.0.0.1", port: Number(process.env.PORT), requireAck: true });
       sink.send("package.cjs", { from: "commonjs", source: typeof UwsgiStatsSource });
       sink.close({ timeoutMs: 10000 }).then(() => console.log(JSON.stringify(Object.keys(require.cache))));`,
        );
        const cache = JSON.parse(
          await run("node", ["cjs.cjs"], app, { PORT: String(receiver.port) }),
        ) as string[];
        assert.ok(
          cache.some((file) => file.includes("/node_modules/uwsgi-forward/dist/cjs/index.js")),
          cache.join("\n"),
        );
        assert.deepEqual(
          cache.filter((file) => file.includes("/node_modules/yaml/")),
          [],
        );
        await receiver.waitFor(
          (events) => events.some((e) => e.tag === "package.cjs"),
          "the CommonJS app's record",
        );
        assert.deepEqual(receiver.events.find((e) => e.tag === "package.cjs")?.record, {
          from: "commonjs",
          source: "function",
        });
      },
    );

    await t.test(
      "a strict TypeScript app (and the README's library example) type-checks against it as ESM and CommonJS with @types/node, and a typo'd option does not",
      async () => {
        writeFileSync(
          path.join(app, "app.mts"),
          `import { pipeline } from "node:stream/promises";
       import { ForwardSink, UwsgiStatsSource, type ForwardItem } from "uwsgi-forward";
       const source = new UwsgiStatsSource({ targets: ["/tmp/stat.sock"], shapes: ["summary", "worker"] });
       const sink = new ForwardSink({ host: "127.0.0.1", port: 24224, requireAck: true });
       export const accepted: boolean = sink.send("app.access", { path: "/", status: 200 });
       export const polled: Promise<ForwardItem[]> = source.poll();
       export const done: Promise<void> = pipeline(source, sink);`,
        );
        writeFileSync(
          path.join(app, "app.cts"),
          `import { ForwardSink, UwsgiStatsSource } from "uwsgi-forward";
       export const sink: ForwardSink = new ForwardSink({ port: 24224 });
       export const accepted: boolean = sink.send("app.log", { n: 1 }, Date.now());
       export const source: UwsgiStatsSource = new UwsgiStatsSource({ targets: ["127.0.0.1:1717"] });`,
        );
        writeFileSync(
          path.join(app, "typo.mts"),
          `import { ForwardSink } from "uwsgi-forward";
       export const sink = new ForwardSink({ prot: 24224 });`,
        );
        const flags = [
          "--noEmit",
          "--strict",
          "--target",
          "es2022",
          "--module",
          "nodenext",
          "--moduleResolution",
          "nodenext",
          "--types",
          "node",
          "--typeRoots",
          path.join(ROOT, "node_modules", "@types"),
        ];
        // The README's library example, as the README says to use it: an ES module (.mts), with @types/node.
        const readme = readFileSync(path.join(clone, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## 30 seconds: the library"));
        assert.match(section.slice(0, section.indexOf("```ts")), /"type": "module"[\s\S]*@types\/node/);
        const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
        assert.match(example, /await pipeline\(source, sink\)/, "the README's library example");
        writeFileSync(path.join(app, "readme.mts"), example);
        await run("node", [tsc, ...flags, "app.mts", "app.cts", "readme.mts"], app);
        // Why @types/node: the published types extend Node's streams.
        const sinkTypes = readFileSync(
          path.join(app, "node_modules/uwsgi-forward/dist/esm/forward/sink.d.ts"),
          "utf8",
        );
        assert.match(sinkTypes, /from "node:stream"/);
        const typo = await outcome("node", [tsc, ...flags, "typo.mts"], app);
        assert.notEqual(typo.code, 0, "a misspelt option must not type-check");
        assert.match(typo.stdout, /typo\.mts.*error TS2353: .*'prot'/);
      },
    );

    await t.test("the README's tarball install names the tarball npm pack makes", () => {
      const readme = readFileSync(path.join(clone, "README.md"), "utf8");
      assert.ok(readme.includes(`/${tarball.filename}`), `README.md does not name ${tarball.filename}`);
    });

    await t.test(
      "the installed uwsgi-forward prints its version and, with --stdout --once, a real uWSGI's stats",
      async () => {
        const version = (
          JSON.parse(readFileSync(path.join(clone, "package.json"), "utf8")) as { version: string }
        ).version;
        assert.equal((await run(bin, ["--version"], app)).trim(), version);
        const lines = (await run(bin, ["--stdout", "--once", "--stats", uwsgi.stats], app))
          .trim()
          .split("\n");
        const items = lines.map(
          (line) => JSON.parse(line) as { tag: string; record: { workers?: unknown[] } },
        );
        assert.equal(items.length, 1, lines.join("\n"));
        assert.equal(items[0]?.tag, "uwsgi.stats");
        assert.equal(items[0]?.record.workers?.length, 2);
      },
    );

    await t.test(
      "the bin reads a JSON config file without yaml, and names yaml when a YAML file needs it",
      async () => {
        writeFileSync(
          path.join(app, "config.json"),
          JSON.stringify({ stats: [uwsgi.stats], shape: ["worker"] }),
        );
        const lines = (await run(bin, ["--stdout", "--once", "--config", "config.json"], app))
          .trim()
          .split("\n");
        assert.deepEqual(
          lines.map((line) => (JSON.parse(line) as { tag: string }).tag),
          ["uwsgi.worker", "uwsgi.worker"],
        );
        writeFileSync(path.join(app, "config.yaml"), `stats: ${uwsgi.stats}\n`);
        const yaml = await outcome(bin, ["--stdout", "--once", "--config", "config.yaml"], app);
        assert.equal(yaml.code, 2, yaml.stderr);
        assert.match(yaml.stderr, /config\.yaml" is YAML, and the yaml package cannot be loaded/);
      },
    );

    t.diagnostic(`clone, pack, install and checks took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
);

/**
 * Files that name ../shared without reading it: this test, and the test of .ci/run, which asserts what .ci/run
 * says and puts a stand-in peers/setup.sh where CI has ../shared.
 */
const NAMES_SHARED_ONLY_TO_CHECK_IT = new Set([
  path.join("test", "package.test.ts"),
  path.join("test", "cli", "readme-commands.test.ts"),
]);

test("no code in src, test, bench, scripts or examples reads ../shared (only test/interop may, through an env var)", () => {
  const offenders: string[] = [];
  for (const top of ["src", "test", "bench", "scripts", "examples"]) {
    for (const entry of readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })) {
      const file = path.relative(ROOT, path.join(entry.parentPath, entry.name));
      if (!entry.isFile() || !/\.(ts|mts|cts|js|mjs|cjs|sh)$/.test(file)) continue;
      if (file.startsWith(`test${path.sep}interop${path.sep}`) || NAMES_SHARED_ONLY_TO_CHECK_IT.has(file))
        continue;
      const text = readFileSync(path.join(ROOT, file), "utf8");
      // `"shared"` alone is a path segment (join(…, "shared")); uWSGI's socket field `shared` is named as
      // integer("shared") or in a list of field names, never beside a path.
      if (/\.\.\/shared\b|(?:join|resolve)\([^)]*["'`]shared["'`]/.test(text)) offenders.push(file);
    }
  }
  assert.deepEqual(offenders, []);
});
