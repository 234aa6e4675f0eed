// Builds dist/esm (ESM: the library and the uwsgi-forward command) and dist/cjs (CommonJS: the library only),
// each with type declarations. No source maps: the output is plain tsc JavaScript, as readable as the source.
import { execFileSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
rmSync("dist", { recursive: true, force: true });
for (const project of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
  execFileSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
}
writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
chmodSync("dist/esm/cli/main.js", 0o755);
