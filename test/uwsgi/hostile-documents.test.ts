import { test } from "node:test";
import assert from "node:assert/strict";
import { pipeline } from "node:stream/promises";
import { ForwardSink } from "../../src/forward/index.js";
import { UwsgiStatsError } from "../../src/uwsgi/errors.js";
import { parseDocument } from "../../src/uwsgi/parse.js";
import { UwsgiStatsSource } from "../../src/uwsgi/source.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { deepDocument, GOOD_DOC, HOSTILE, manyWorkersDocument } from "../helpers/hostile-documents.js";
import { fakeStatsServer } from "../helpers/uwsgi-fake-servers.js";
import { cliTempDir } from "../helpers/cli-temp.js";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof UwsgiStatsError, String(err));
    return err.code;
  }
  return undefined;
}

test("the parser accepts 64 levels and rejects 65 with UWSGI_STATS_TOO_DEEP, valid JSON or not", () => {
  // deepDocument(n) nests the array at depth n + 1 (the document is depth 1).
  assert.equal(
    codeOf(() => parseDocument("t", Buffer.from(deepDocument(63)))),
    undefined,
  );
  assert.equal(
    codeOf(() => parseDocument("t", Buffer.from(deepDocument(64)))),
    "UWSGI_STATS_TOO_DEEP",
  );
  // Invalid JSON (an unescaped quote in cwd) goes through the tolerant parser, which has the same bound.
  const broken = (levels: number): Buffer =>
    Buffer.from(deepDocument(levels).replace('"pid":100', '"cwd":"/srv/a"b","pid":100'));
  assert.equal(parseDocument("t", broken(63)).repaired, true);
  assert.equal(
    codeOf(() => parseDocument("t", broken(64))),
    "UWSGI_STATS_TOO_DEEP",
  );
  assert.equal(
    codeOf(() => parseDocument("t", broken(100_000))),
    "UWSGI_STATS_TOO_DEEP",
  );
});

test("the parser counts every value against the element budget", () => {
  const doc = Buffer.from(manyWorkersDocument(10));
  const values = 4 + 10 * 17; // the document, version, pid, workers; 10 objects of 16 fields
  assert.equal(
    codeOf(() => parseDocument("t", doc, { maxElements: values })),
    undefined,
  );
  assert.equal(
    codeOf(() => parseDocument("t", doc, { maxElements: values - 1 })),
    "UWSGI_STATS_TOO_MANY_ELEMENTS",
  );
});

test("maxElements is validated and documented by its error", () => {
  assert.throws(
    () => new UwsgiStatsSource({ targets: ["/a.sock"], maxElements: 0 }),
    /Invalid option "maxElements": expected an integer >= 1, got 0 \(e.g. maxElements: 250000\)/,
  );
});

for (const hostile of HOSTILE) {
  test(`${hostile.name}: pipeline(source, sink) delivers a ${hostile.code} record and polling goes on`, async (t) => {
    const dir = cliTempDir(t);
    const documents = [hostile.body(), GOOD_DOC];
    let served = 0;
    const server = await fakeStatsServer(dir, "s.sock", (socket) =>
      socket.end(documents[Math.min(served++, 1)] as string),
    );
    t.after(() => server.close());
    const receiver = await startCliReceiver(t);
    const source = new UwsgiStatsSource({
      targets: [server.path],
      shapes: ["raw", "summary", "worker", "flat"],
      intervalMs: 100,
      timeoutMs: 5000,
      hostName: "web-1",
    });
    const sink = new ForwardSink({ host: "127.0.0.1", port: receiver.port });
    const done = pipeline(source, sink);
    await receiver.waitFor(
      (events) => events.filter((e) => e.tag === "uwsgi.summary").length >= 2,
      "two summaries after the hostile document",
    );
    await source.stop();
    await done;
    const errors = receiver.events.filter((e) => e.tag === "uwsgi.error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.record.code, hostile.code);
    assert.equal(errors[0]?.record.target, server.path);
    assert.equal(errors[0]?.record.host, "web-1");
    const firstGood = receiver.events.findIndex((e) => e.tag === "uwsgi.stats");
    assert.ok(firstGood > receiver.events.indexOf(errors[0] as never), "the error comes first");
    assert.equal(sink.stats().dropped, 0);
  });
}
