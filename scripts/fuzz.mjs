// Runs every seeded fuzz test of the suite (test/**/fuzz-*.test.ts) for longer than `npm test` does: FUZZ_SECONDS
// each (default 300), from FUZZ_SEED (default: a random seed, printed, so that a failure can be replayed).
// `npm run fuzz`; `FUZZ_SECONDS=60 FUZZ_SEED=42 npm run fuzz`; `npm run fuzz -- test/cli` runs the fuzz tests under
// the folders or files given.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every `fuzz-*.test.ts` under `path` (a folder, or one file), sorted. */
function fuzzFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((entry) => {
      const full = join(path, entry.name);
      if (entry.isDirectory()) return fuzzFiles(full);
      return /^fuzz-.*\.test\.ts$/.test(entry.name) ? [full] : [];
    })
    .sort();
}

const seconds = Number(process.env.FUZZ_SECONDS ?? 300);
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
if (!Number.isFinite(seconds) || seconds < 0) {
  console.error(`FUZZ_SECONDS must be a number of seconds, got ${JSON.stringify(process.env.FUZZ_SECONDS)}`);
  process.exit(2);
}
const files = (process.argv.length > 2 ? process.argv.slice(2) : ["test"]).flatMap(fuzzFiles);
if (files.length === 0) {
  console.error("no fuzz-*.test.ts file found");
  process.exit(2);
}
console.log(
  `fuzzing ${files.length} file(s) for ${seconds} s each from FUZZ_SEED=${seed}: ${files.join(", ")}`,
);
const args = [
  "--import",
  "tsx",
  "--test",
  "--test-concurrency=1",
  `--test-timeout=${(seconds + 120) * 1000}`,
  ...files,
];
const run = spawnSync(process.execPath, args, {
  stdio: "inherit",
  env: { ...process.env, FUZZ_SECONDS: String(seconds), FUZZ_SEED: seed },
});
if (run.status !== 0)
  console.error(`fuzzing failed; replay with FUZZ_SEED=${seed} (each failure names its own seed)`);
process.exit(run.status ?? 1);
