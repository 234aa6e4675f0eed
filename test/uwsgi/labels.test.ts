import { test } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import path from "node:path";
import { InvalidOptionError } from "../../src/errors.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { fakeStatsServer, serveOnce } from "../helpers/uwsgi-fake-servers.js";
import { startUwsgi } from "../helpers/uwsgi-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { cliTempDir } from "../helpers/cli-temp.js";
import { rmSync } from "node:fs";

/** The Emperor's own `emperor-stats` document, trimmed from a capture of uWSGI 2.0.21. */
const EMPEROR_DOC = JSON.stringify({
  version: "2.0.21-debian",
  pid: 11549,
  emperor: ["/tmp/vassals"],
  emperor_tyrant: 0,
  throttle_level: 0,
  vassals: [{ id: "app2.ini", pid: 11550, loyal: 1, ready: 1, accepting: 1, cursed: 0, respawns: 0 }],
  blacklist: [],
});

testWithUwsgi("every record of every shape starts with host and the static fields", async (t) => {
  const dir = cliTempDir(t);
  const emperor = await fakeStatsServer(dir, "emperor.sock", serveOnce(EMPEROR_DOC));
  t.after(() => emperor.close());
  const u = await startUwsgi({ stats: "unix" });
  t.after(async () => {
    await u.kill();
    rmSync(u.dir, { recursive: true, force: true });
  });
  const source = new UwsgiStatsSource({
    targets: [u.stats, emperor.path, path.join(dir, "missing.sock")],
    shapes: ["raw", "summary", "worker", "flat"],
    hostName: "web-7",
    fields: { env: "prod", role: "api", shard: 3, canary: false },
    timeoutMs: 5000,
  });
  t.after(() => source.stop());
  const items = await source.poll();
  const tags = new Set(items.map((i) => i.tag));
  for (const tag of [
    "uwsgi.stats",
    "uwsgi.summary",
    "uwsgi.worker",
    "uwsgi.flat",
    "uwsgi.emperor",
    "uwsgi.error",
  ])
    assert.ok(tags.has(tag), `a ${tag} record`);
  for (const { tag, record } of items) {
    assert.deepEqual(Object.keys(record).slice(0, 5), ["host", "env", "role", "shard", "canary"], tag);
    assert.equal(record.host, "web-7", tag);
    assert.equal(record.env, "prod", tag);
    assert.equal(record.shard, 3, tag);
    assert.equal(record.canary, false, tag);
  }
});

test("host defaults to os.hostname() and static fields to none", async (t) => {
  const dir = cliTempDir(t);
  const source = new UwsgiStatsSource({ targets: [path.join(dir, "missing.sock")] });
  const [item] = await source.poll();
  await source.stop();
  assert.equal(item?.record.host, hostname());
  assert.deepEqual(source.options.labels, { host: hostname() });
});

test("a label wins over a same-named key of the document", async (t) => {
  const dir = cliTempDir(t);
  const server = await fakeStatsServer(dir, "s.sock", serveOnce('{"host":"from-doc","workers":[]}'));
  t.after(() => server.close());
  const source = new UwsgiStatsSource({ targets: [server.path], hostName: "web-1" });
  const [item] = await source.poll();
  await source.stop();
  assert.equal(item?.record.host, "web-1");
});

test("label keys must be Norikra field names and not a field the records carry", () => {
  const bad: [unknown, RegExp][] = [
    [{ "my-env": "x" }, /^Invalid option "fields.my-env": a label name must match \[A-Za-z_\]/],
    [{ "0env": "x" }, /fields.0env/],
    [{ "": "x" }, /fields\.": a label name/],
    [{ target: "x" }, /fields.target": "target" is a field the records already carry/],
    [{ host: "x" }, /fields.host"/],
    [{ workers_busy: "x" }, /fields.workers_busy"/],
    [{ requests_per_sec: "x" }, /fields.requests_per_sec"/],
    [{ env: { nested: 1 } }, /fields.env": expected a string, a finite number or a boolean, got an object/],
    [{ env: Number.NaN }, /fields.env"/],
    [{ env: null }, /fields.env"/],
    ["env=prod", /fields": expected an object/],
  ];
  for (const [fields, message] of bad) {
    assert.throws(
      () => new UwsgiStatsSource({ targets: ["/a.sock"], fields: fields as Record<string, string> }),
      (err: unknown) => err instanceof InvalidOptionError && message.test(err.message),
      JSON.stringify(fields),
    );
  }
  for (const hostName of ["", "  ", 42, "x".repeat(256)]) {
    assert.throws(
      () => new UwsgiStatsSource({ targets: ["/a.sock"], hostName: hostName as string }),
      (err: unknown) => err instanceof InvalidOptionError && err.option === "hostName",
    );
  }
  assert.doesNotThrow(
    () => new UwsgiStatsSource({ targets: ["/a.sock"], fields: { _team: "x", app_host: "y" } }),
  );
});
