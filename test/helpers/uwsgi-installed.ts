import { spawnSync } from "node:child_process";
import { test, type TestContext } from "node:test";

/**
 * Why the tests that run a real uWSGI cannot run on this machine, or undefined when they can: `uwsgi` on PATH with
 * its python3 plugin (Debian's uwsgi-core and uwsgi-plugin-python3). Checked once, when a test file loads.
 */
export const UWSGI_MISSING: string | undefined = (() => {
  const run = spawnSync("uwsgi", ["--need-plugin", "python3", "--version"], { encoding: "utf8" });
  if (run.status === 0) return undefined;
  const what =
    run.error !== undefined
      ? "no uwsgi command on PATH"
      : `uwsgi's python3 plugin does not load (${run.stderr.trim().split("\n").at(-1) ?? ""})`;
  return (
    `uWSGI is not installed (${what}): run bash scripts/setup.sh as root, ` +
    "or apt-get install uwsgi-core uwsgi-plugin-python3"
  );
})();

/** Throws the reason uWSGI cannot run: the helpers that start one call it first, so a test never fails obscurely. */
export function assertUwsgiInstalled(): void {
  if (UWSGI_MISSING !== undefined) throw new Error(UWSGI_MISSING);
}

type TestFn = (t: TestContext) => void | Promise<void>;

/**
 * node:test's `test` for a test that runs a real uWSGI: skipped, with what is missing and how to install it, on a
 * machine without uWSGI.
 */
export function testWithUwsgi(name: string, fn: TestFn): Promise<void>;
export function testWithUwsgi(name: string, options: { timeout?: number }, fn: TestFn): Promise<void>;
export function testWithUwsgi(
  name: string,
  optionsOrFn: { timeout?: number } | TestFn,
  maybeFn?: TestFn,
): Promise<void> {
  const [options, fn] =
    typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn as TestFn];
  return test(name, { ...options, skip: UWSGI_MISSING ?? false }, fn);
}
