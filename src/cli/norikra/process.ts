import { runNorikra } from "./command.js";

/** Runs `uwsgi-forward norikra` in this process: stdout/stderr, and SIGTERM/SIGINT stop --watch. */
export function runNorikraProcess(argv: readonly string[]): Promise<number> {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return runNorikra(argv, { stdout: process.stdout, stderr: process.stderr, stopped }).finally(() => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  });
}
