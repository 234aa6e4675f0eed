import { runNorikra } from "./command.js";

/**
 * Runs `uwsgi-forward norikra` in this process. With --watch, SIGTERM and SIGINT stop the watch (exit 0);
 * without it they keep their default effect.
 */
export function runNorikraProcess(argv: readonly string[]): Promise<number> {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const watching = argv.includes("--watch");
  if (watching) {
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  }
  return runNorikra(argv, { stdout: process.stdout, stderr: process.stderr, stopped }).finally(() => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  });
}
