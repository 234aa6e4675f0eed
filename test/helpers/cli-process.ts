import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A running `uwsgi-forward` (src/cli/main.ts through tsx), with its output collected line by line. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stderr line matching `pattern` (already seen or still to come). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once `count` stdout lines have arrived. */
  waitForStdoutLines(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or 128 + signal number). */
  exited: Promise<number>;
}

/**
 * Starts the sidecar with `args` and `env` (added to a clean copy of process.env), in the repository root or in
 * `options.cwd` (for relative paths), as `options.uid`/`gid` when given (root only); kills it after the test.
 */
export function startCli(
  t: { after: (fn: () => Promise<void>) => void },
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { cwd?: string; uid?: number; gid?: number } = {},
): CliProcess {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("UWSGI_FORWARD_")),
  );
  const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), main, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...clean, ...env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream, lines: string[]): void => {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const listener of [...listeners]) listener();
    });
  };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);
  const exited = once(child, "exit").then(([code, signal]) =>
    code === null ? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGINT" ? 2 : 15) : (code as number),
  );
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of [...listeners]) listener();
  });
  const waitUntil = <T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = probe();
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (done) {
          finish();
          reject(new Error(`sidecar exited before ${what}; stderr:\n${stderr.join("\n")}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; stderr:\n${stderr.join("\n")}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  t.after(async () => {
    if (!done) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return {
    child,
    stdout,
    stderr,
    exited,
    waitForLog: (pattern, timeoutMs = 20_000) =>
      waitUntil(() => stderr.find((line) => pattern.test(line)), `a log line matching ${pattern}`, timeoutMs),
    waitForStdoutLines: (count, timeoutMs = 20_000) =>
      waitUntil(() => (stdout.length >= count ? true : undefined), `${count} stdout lines`, timeoutMs).then(
        () => {},
      ),
  };
}
