import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temp directory for one test, removed after it: the test suite's one temp-dir helper. */
export function cliTempDir(t: { after: (fn: () => void) => void }, prefix = "uwsgi-forward-cli-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
