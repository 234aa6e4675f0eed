import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { cliTempDir } from "../helpers/cli-temp.js";
import { ROOT, startCli } from "../helpers/cli-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

const WWW_DATA = 33;
const NOBODY = 65534;

testWithUwsgi(
  "docs/uwsgi.md's ini runs as written: a stats socket of mode 0660 that a sidecar in uWSGI's group reads and another user may not",
  async (t) => {
    const doc = readFileSync(join(ROOT, "docs/uwsgi.md"), "utf8");
    const ini = /```ini\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    assert.match(ini, /^chmod-socket = 660$/m);
    const dir = cliTempDir(t, "uwsgi-forward-doc-");
    chmodSync(dir, 0o777); // uWSGI makes its sockets here as www-data
    // As root, uWSGI drops to www-data (uid, gid) and the sidecars run as nobody; as anyone else uid/gid cannot apply.
    const root = process.getuid?.() === 0;
    const asWritten = ini.replaceAll("/run/uwsgi", dir);
    const text = root ? asWritten : asWritten.replace(/^(uid|gid) = .*$/gm, "");
    writeFileSync(join(dir, "app.ini"), text);
    const uwsgi = spawn("uwsgi", ["--ini", join(dir, "app.ini")], { cwd: dir, stdio: "ignore" });
    const exited = once(uwsgi, "exit");
    t.after(async () => {
      if (uwsgi.exitCode === null && uwsgi.signalCode === null) {
        uwsgi.kill("SIGINT");
        await exited;
      }
    });
    const stats = join(dir, "app.stats.sock");
    for (let i = 0; i < 200 && !existsSync(stats); i++) await delay(50);
    const mode = statSync(stats);
    assert.equal(mode.mode & 0o777, 0o660, "chmod-socket applies to the stats socket");
    if (!root) return;
    assert.deepEqual([mode.uid, mode.gid], [WWW_DATA, WWW_DATA], "it belongs to uWSGI's uid and gid");

    const inGroup = startCli(t, ["--stdout", "--once", "--stats", stats], {}, { uid: NOBODY, gid: WWW_DATA });
    assert.equal(await inGroup.exited, 0, inGroup.stderr.join("\n"));
    assert.match(inGroup.stdout[0] ?? "", /^\{"tag":"uwsgi\.stats"/);
    const outside = startCli(t, ["--stdout", "--once", "--stats", stats], {}, { uid: NOBODY, gid: NOBODY });
    assert.equal(await outside.exited, 1);
    assert.ok(
      outside.stderr.some((l) => /\(EACCES\)/.test(l)),
      outside.stderr.join("\n"),
    );
  },
);
