#!/usr/bin/env node
// The `uwsgi-forward` command (package bin). Everything it does is in run.ts; this file only binds it to the process.
import { runNorikraProcess } from "./norikra/process.js";
import { run } from "./run.js";

const exit = (code: number): void => {
  process.exitCode = code;
  // Let stdout and stderr drain, but never linger on a forgotten handle.
  setTimeout(() => process.exit(code), 2000).unref();
};

// `uwsgi-forward --stdout | head`: a closed pipe ends the process quietly instead of crashing it.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const [command, ...rest] = process.argv.slice(2);
(command === "norikra"
  ? runNorikraProcess(rest)
  : run(process.argv.slice(2), process.env, {
      stdout: process.stdout,
      stderr: process.stderr,
      exit: (code) => process.exit(code),
    })
).then(exit, (err: unknown) => {
  process.stderr.write(`uwsgi-forward: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
  exit(1);
});
