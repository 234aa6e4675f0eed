import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startCli } from "../helpers/cli-process.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { settledEvents, skipWithoutPeers, waitForEvents, fluentdForTest } from "./helpers/peers.js";

test(
  "two hosts with the same socket path, one real Fluentd: --host-name keeps their records apart",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    // Two real uWSGI, each in its own working directory with `stats = stat.sock`: the same target string on both.
    const hosts = await Promise.all(["web-a", "web-b"].map(() => startCliUwsgi(t, { stats: "stat.sock" })));
    await (hosts[0] as (typeof hosts)[0]).load(3);
    await (hosts[1] as (typeof hosts)[0]).load(7);
    const clis = hosts.map((uwsgi, i) =>
      startCli(
        t,
        [
          "--stats",
          "./stat.sock",
          "--forward",
          `127.0.0.1:${port}`,
          "--require-ack",
          "--shape",
          "summary,worker",
          "--interval",
          "300ms",
          "--host-name",
          i === 0 ? "web-a" : "web-b",
          "--field",
          "env=interop",
        ],
        {},
        { cwd: uwsgi.dir },
      ),
    );
    const summaries = (events: Record<string, unknown>[], host: string): Record<string, unknown>[] =>
      events.filter((e) => e._tag === "uwsgi.summary" && e.host === host);
    await waitForEvents(
      fluentd.out,
      (e) => summaries(e, "web-a").length >= 2 && summaries(e, "web-b").length >= 2,
    );
    for (const cli of clis) cli.child.kill("SIGTERM");
    for (const cli of clis) assert.equal(await cli.exited, 0);
    const events = await settledEvents(fluentd.out, 1_000);

    const pidOf = (dir: string): number => Number(readFileSync(join(dir, "uwsgi.pid"), "utf8"));
    const groups = new Map<string, Set<unknown>>();
    for (const e of events) {
      assert.equal(e.env, "interop");
      if (e._tag === "uwsgi.health") continue;
      assert.equal(e.target, "./stat.sock");
      const key = `${String(e.host)} ${String(e.target)}`;
      groups.set(key, (groups.get(key) ?? new Set()).add(e._tag === "uwsgi.summary" ? e.pid : e.master_pid));
    }
    assert.deepEqual(
      [...groups.keys()].sort(),
      ["web-a ./stat.sock", "web-b ./stat.sock"],
      "grouped by host and target, the two hosts stay two groups",
    );
    assert.deepEqual(
      [...(groups.get("web-a ./stat.sock") ?? [])],
      [pidOf((hosts[0] as (typeof hosts)[0]).dir)],
    );
    assert.deepEqual(
      [...(groups.get("web-b ./stat.sock") ?? [])],
      [pidOf((hosts[1] as (typeof hosts)[0]).dir)],
    );
    assert.equal(summaries(events, "web-a").at(-1)?.requests, 3);
    assert.equal(summaries(events, "web-b").at(-1)?.requests, 7);
    const health = events.filter((e) => e._tag === "uwsgi.health").map((e) => e.host);
    assert.deepEqual(health.sort(), ["web-a", "web-b"]);
  },
);
