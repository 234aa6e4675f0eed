import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { ForwardItem } from "../../src/item.js";
import { MAX_UNDECLARED_FIELDS } from "../../src/uwsgi/keys.js";
import type { StatsShape } from "../../src/uwsgi/options.js";
import { UwsgiStatsSource, type PollSummary } from "../../src/uwsgi/source.js";
import { fakeStatsServer } from "../helpers/uwsgi-fake-servers.js";
import { cliTempDir } from "../helpers/cli-temp.js";

const GOOD = { pid: 10, workers: [{ id: 1, pid: 11, requests: 5, status: "idle" }] };

/** A source polling a stats socket that answers `documents` in turn (the last one from then on). */
async function polls(
  t: TestContext,
  documents: (object | string)[],
  shapes: StatsShape[],
): Promise<{ items: ForwardItem[][]; dropped: number[] }> {
  const dir = cliTempDir(t, "uwsgi-forward-test-");
  const bodies = documents.map((d) => (typeof d === "string" ? d : JSON.stringify(d)));
  let served = 0;
  const server = await fakeStatsServer(dir, "s.sock", (socket) =>
    socket.end(bodies[Math.min(served++, bodies.length - 1)] as string),
  );
  t.after(() => server.close());
  const source = new UwsgiStatsSource({ targets: [server.path], shapes, hostName: "web-1", timeoutMs: 5000 });
  const dropped: number[] = [];
  source.on("poll", (p: PollSummary) => dropped.push(p.droppedFields));
  const items: ForwardItem[][] = [];
  for (let i = 0; i < documents.length; i++) items.push(await source.poll());
  await source.stop();
  return { items, dropped };
}

const of = (items: ForwardItem[], tag: string): Record<string, unknown>[] =>
  items.filter((i) => i.tag === tag).map((i) => i.record);

test("a declared field of the wrong type is left out and counted, and the good documents after it keep it", async (t) => {
  const { items, dropped } = await polls(
    t,
    [
      { pid: 10, workers: [{ id: 1, pid: 11, requests: "5", status: "idle" }] },
      { pid: 10, workers: [{ id: 1, pid: 11, requests: 5, status: -1 }] },
      GOOD,
    ],
    ["summary", "worker"],
  );
  const workers = items.map((poll) => of(poll, "uwsgi.worker")[0] as Record<string, unknown>);
  assert.equal(workers[0]?.requests, undefined, '"5" is not an integer');
  assert.equal(workers[0]?.status, "idle");
  assert.equal(workers[1]?.status, undefined, "-1 is not a status");
  assert.equal(workers[1]?.requests, 5);
  assert.equal(workers[2]?.requests, 5, "a bad document does not change what a good one gives");
  assert.equal(workers[2]?.status, "idle");
  assert.equal(of(items[0] ?? [], "uwsgi.summary")[0]?.requests, undefined, "nor is it summed");
  assert.deepEqual(dropped, [1, 1, 0]);
});

test("a document's keys never replace the source's own fields: target, repaired, host stay the source's", async (t) => {
  const { items, dropped } = await polls(
    t,
    [
      { workers: [], target: "/other.sock", repaired: "no", host: "elsewhere" },
      { pid: 10, workers: [{ id: 1, pid: 11, target: 7, requests_per_sec: 1e6, host: "x" }] },
      GOOD,
    ],
    ["raw", "worker", "flat"],
  );
  const path = of(items[2] ?? [], "uwsgi.stats")[0]?.target as string;
  assert.ok(path.endsWith("s.sock"));
  const raw = of(items[0] ?? [], "uwsgi.stats")[0];
  assert.equal(raw?.target, path);
  assert.equal(raw?.repaired, false);
  assert.equal(raw?.host, "web-1");
  const flat = of(items[0] ?? [], "uwsgi.flat")[0];
  assert.equal(flat?.target, path);
  assert.equal(flat?.target_2, "/other.sock", "flat keeps the document's own apart");
  const worker = of(items[1] ?? [], "uwsgi.worker")[0];
  assert.equal(worker?.target, path);
  assert.equal(worker?.host, "web-1");
  assert.equal(worker?.requests_per_sec, undefined);
  assert.equal(of(items[2] ?? [], "uwsgi.worker")[0]?.target, path, "and later records keep their target");
  assert.equal(dropped[0], 2, "raw: target and repaired (host is a label, which wins)");
  assert.equal(dropped[1], 3, "worker: target, requests_per_sec and host");
});

test("1e400 never reaches a record, raw included; fractions never reach an integer field", async (t) => {
  const { items, dropped } = await polls(
    t,
    [
      '{"pid":10,"load":1e400,"listen_queue":-1e400,"workers":[{"id":1,"pid":11,"requests":1e400}],"x":[1e400,2]}',
      { pid: 1.5, load: 0.5, workers: [{ id: 1, pid: 11, requests: 2.5, rss: 0.25 }] },
    ],
    ["raw", "summary", "worker", "flat"],
  );
  const raw = of(items[0] ?? [], "uwsgi.stats")[0] as Record<string, unknown>;
  assert.equal("load" in raw || "listen_queue" in raw, false);
  assert.deepEqual(raw.x, [null, 2]);
  assert.equal("requests" in ((raw.workers as Record<string, unknown>[])[0] ?? {}), false);
  for (const item of items.flat()) {
    JSON.stringify(item.record, (_k, v: unknown) => {
      if (typeof v === "number") assert.ok(Number.isFinite(v), `${item.tag}: ${String(v)}`);
      return v;
    });
  }
  assert.equal(dropped[0], 4);
  const summary = of(items[1] ?? [], "uwsgi.summary")[0] as Record<string, unknown>;
  for (const field of ["pid", "load", "requests", "rss"]) assert.equal(summary[field], undefined, field);
  const worker = of(items[1] ?? [], "uwsgi.worker")[0] as Record<string, unknown>;
  assert.equal(worker.requests, undefined);
  assert.equal(worker.rss, undefined);
  assert.equal(worker.master_pid, undefined);
});

test("new field names are remembered up to a bound; past it they are left out and counted, known ones still go", async (t) => {
  const perPoll = 2000;
  const documents = Array.from({ length: 4 }, (_, poll) => {
    const worker: Record<string, unknown> = { id: 1, pid: 11, requests: poll, custom_known: 1 };
    for (let k = 0; k < perPoll; k++) worker[`custom_${poll}_${k}`] = k;
    return { pid: 10, workers: [worker] };
  });
  const { items, dropped } = await polls(t, documents, ["worker"]);
  const undeclared = (r: Record<string, unknown>): number =>
    Object.keys(r).filter((k) => k.startsWith("custom_")).length;
  const sent = items.map((poll) => undeclared(of(poll, "uwsgi.worker")[0] ?? {}));
  assert.deepEqual(sent.slice(0, 2), [perPoll + 1, perPoll + 1]);
  assert.equal(sent.reduce((a, b) => a + b, 0) - 3, MAX_UNDECLARED_FIELDS, "custom_known is sent every time");
  assert.equal(
    dropped.reduce((a, b) => a + b, 0),
    4 * perPoll + 1 - MAX_UNDECLARED_FIELDS,
    "every name past the bound is counted",
  );
  const last = of(items[3] ?? [], "uwsgi.worker")[0];
  assert.equal(last?.custom_known, 1);
  assert.equal(last?.requests, 3);
});
