// Builds dist/esm (ESM: the library and the uwsgi-forward command) and dist/cjs (CommonJS: the library only),
// each with type declarations. No source maps: the output is plain tsc JavaScript, as readable as the source.
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
rmSync("dist", { recursive: true, force: true });
for (const project of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
}
writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
chmodSync("dist/esm/cli/main.js", 0o755);

// import.meta is for ES modules only: the CommonJS build finds the winston worker from __filename instead.
const workerFile = "dist/cjs/loggers/worker-file.js";
const workerSource = readFileSync(workerFile, "utf8");
if (!workerSource.includes("import.meta.url")) throw new Error(`${workerFile}: import.meta.url not found`);
writeFileSync(
  workerFile,
  workerSource.replace("import.meta.url", 'require("node:url").pathToFileURL(__filename).href'),
);
