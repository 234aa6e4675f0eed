import assert from "node:assert/strict";
import { unlinkSync, rmSync } from "node:fs";
import path from "node:path";
import type { ForwardItem } from "../../src/item.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { startEmperor, type UwsgiEmperor } from "../helpers/uwsgi-process.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";

/** Polls until `done` says the items are what the test waits for (the Emperor scans its directory every second). */
async function pollUntil(
  emperor: UwsgiEmperor,
  source: UwsgiStatsSource,
  done: (items: ForwardItem[]) => boolean,
  seen: ForwardItem[] = [],
): Promise<ForwardItem[]> {
  for (let round = 0; round < 200; round++) {
    const items = await source.poll();
    seen.push(...items);
    if (done(items)) return items;
    await new Promise((r) => setTimeout(r, 100));
  }
  const last = seen.slice(-6).map((i) => JSON.stringify({ tag: i.tag, ...i.record }).slice(0, 300));
  throw new Error(
    `the expected records never came; last ones:\n${last.join("\n")}\nEmperor log:\n${emperor.log().slice(-4000)}`,
  );
}

function vassalTargets(items: ForwardItem[]): string[] {
  return items
    .filter((i) => i.tag === "uwsgi.summary")
    .map((i) => i.record.target as string)
    .sort();
}

testWithUwsgi(
  "a glob follows Emperor vassals as they come and go; a vassal's leftover socket is reported stale once",
  async (t) => {
    const emperor = await startEmperor();
    t.after(async () => {
      await emperor.kill();
      rmSync(emperor.dir, { recursive: true, force: true });
    });
    const app1 = await emperor.addVassal("app1", { vacuum: true });
    const app2 = await emperor.addVassal("app2");
    const source = new UwsgiStatsSource({
      timeoutMs: 5000,
      targets: [emperor.emperorStats, path.join(emperor.statsDir, "*.stats.sock")],
      shapes: ["summary"],
    });
    t.after(() => source.stop());
    const stale: string[] = [];
    source.on("stale", (_err, target) => stale.push(target));

    const both = await pollUntil(emperor, source, (items) => vassalTargets(items).length === 2);
    assert.deepEqual(vassalTargets(both), [app1, app2]);
    const emperorRaw = both.find((i) => i.tag === "uwsgi.stats");
    assert.equal(emperorRaw?.record.target, emperor.emperorStats);
    assert.ok(Array.isArray(emperorRaw?.record.vassals));

    const app3 = await emperor.addVassal("app3");
    await pollUntil(emperor, source, (items) => vassalTargets(items).length === 3);

    unlinkSync(path.join(emperor.vassalsDir, "app1.ini"));
    unlinkSync(path.join(emperor.vassalsDir, "app2.ini"));
    const seen: ForwardItem[] = [];
    let onlyApp3 = false;
    let oneVassal: Record<string, unknown> | undefined;
    await pollUntil(
      emperor,
      source,
      (items) => {
        if (vassalTargets(items).join() === app3) onlyApp3 = true;
        const e = items.find((i) => i.tag === "uwsgi.emperor");
        if (e?.record.vassals === 1) oneVassal = e.record;
        return onlyApp3 && oneVassal !== undefined && stale.includes(app2);
      },
      seen,
    );
    for (let i = 0; i < 3; i++) seen.push(...(await source.poll()));
    const app2Errors = seen.filter((i) => i.tag === "uwsgi.error" && i.record.target === app2);
    assert.deepEqual(
      app2Errors.map((e) => [e.record.code, e.record.stale]),
      [["UWSGI_STATS_REFUSED", true]],
      "the stale socket is reported once, then polled quietly",
    );
    assert.equal(stale.filter((s) => s === app2).length, 1);
    const emperorRecord = oneVassal as Record<string, unknown>;
    assert.equal(emperorRecord.target, emperor.emperorStats);
    assert.equal(emperorRecord.vassals, 1);
    assert.equal(typeof emperorRecord.vassals_loyal, "number");
    assert.equal(typeof emperorRecord.blacklisted, "number");
    assert.equal(typeof emperorRecord.vassals_respawns, "number");
  },
);
