/**
 * Apps that use the logger transports the way a user's app does: a scratch folder whose node_modules links
 * `uwsgi-forward` (this repository, so its package.json exports and built dist), `pino` and `winston`.
 */
import { spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./cli-process.js";
import { cliTempDir } from "./cli-temp.js";

/** A scratch app folder, removed after the test. */
export function appDir(t: { after: (fn: () => void) => void }): string {
  const dir = cliTempDir(t, "uwsgi-forward-logger-app-");
  const modules = path.join(dir, "node_modules");
  mkdirSync(modules);
  symlinkSync(ROOT, path.join(modules, "uwsgi-forward"), "dir");
  for (const name of ["pino", "winston"]) {
    symlinkSync(path.join(ROOT, "node_modules", name), path.join(modules, name), "dir");
  }
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "app", private: true }));
  return dir;
}

/** How an app run ended. */
export interface AppRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From the app's `logged` line on stdout (its last statement) to its exit; undefined without that line. */
  exitAfterLoggedMs: number | undefined;
}

/** Runs `node file args…` in `dir`; kills it after `timeoutMs`. */
export function runApp(dir: string, file: string, args: string[] = [], timeoutMs = 30_000): Promise<AppRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let loggedAt: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (loggedAt === undefined && stdout.includes("logged\n")) loggedAt = Date.now();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      const exitAfterLoggedMs = loggedAt === undefined ? undefined : Date.now() - loggedAt;
      resolve({ code, stdout, stderr, exitAfterLoggedMs });
    });
  });
}
