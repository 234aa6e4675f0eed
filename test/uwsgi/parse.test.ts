import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocument } from "../../src/uwsgi/parse.js";
import { UwsgiStatsError } from "../../src/uwsgi/errors.js";
import { uwsgiSample } from "../helpers/uwsgi-samples.js";

const sample = uwsgiSample("a_seed_unix_busy_inflight_request.json").toString("utf8");

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UwsgiStatsError);
    return err.code;
  }
  return "no error";
}

test("a cwd with an unescaped quote and backslash is read, its numbers intact, and marked repaired", () => {
  const bad = sample.replace('"cwd":"/tmp/anchors/uwsgi"', '"cwd":"/tmp/it\'s "odd" \\ dir"');
  assert.throws(() => JSON.parse(bad));
  const { doc, repaired } = parseDocument("t", Buffer.from(bad));
  assert.equal(repaired, true);
  assert.equal(doc.cwd, '/tmp/it\'s "odd" \\ dir');
  const good = JSON.parse(sample) as Record<string, unknown>;
  assert.deepEqual({ ...doc, cwd: good.cwd }, good);
});

test("a lock name and a mountpoint with quotes are read as keys and values", () => {
  const bad = sample
    .replace('"user 0":0', '"spooler on /tmp/a"b\\c":0')
    .replace('"mountpoint":""', '"mountpoint":"/x"y"');
  const { doc, repaired } = parseDocument("t", Buffer.from(bad));
  assert.equal(repaired, true);
  assert.deepEqual((doc.locks as object[])[0], { 'spooler on /tmp/a"b\\c': 0 });
  const w = (doc.workers as { apps: { mountpoint: string; requests: number }[] }[])[0];
  assert.equal(w?.apps[0]?.mountpoint, '/x"y');
  assert.equal(w?.apps[0]?.requests, 6);
});

test("a path ending with a backslash does not swallow the rest of the document", () => {
  const bad = sample.replace('"cwd":"/tmp/anchors/uwsgi"', '"cwd":"/tmp/dir\\"');
  const { doc, repaired } = parseDocument("t", Buffer.from(bad));
  assert.equal(repaired, true);
  assert.equal(doc.cwd, "/tmp/dir\\");
  assert.equal((doc.workers as unknown[]).length, 1);
  assert.equal(doc.pid, 6701);
});

test("raw control bytes and non-UTF-8 bytes in vars are kept, the document repaired", () => {
  const withCtl = sample.replace('"HTTP_ACCEPT=*/*"', '"HTTP_ACCEPT=a\u0001b"');
  const parsed = parseDocument("t", Buffer.from(withCtl));
  assert.equal(parsed.repaired, true);
  const escaped = JSON.parse(withCtl.replace("\u0001", "\\u0001"));
  assert.deepEqual(parsed.doc, escaped);

  const bytes = Buffer.from(sample.replace('"HTTP_ACCEPT=*/*"', '"HTTP_ACCEPT=@@"'));
  const at = bytes.indexOf("@@");
  bytes[at] = 0xff;
  bytes[at + 1] = 0xfe;
  const latin = parseDocument("t", bytes);
  assert.equal(latin.repaired, true);
  assert.equal(latin.doc.pid, 6701);
});

test("valid documents go through JSON.parse unchanged", () => {
  const { doc, repaired } = parseDocument("t", Buffer.from(sample));
  assert.equal(repaired, false);
  assert.deepEqual(doc, JSON.parse(sample));
});

test("a document cut short is TRUNCATED, at any length", () => {
  for (const cut of [1, 10, 200, 500, sample.length - 3, sample.length - 1]) {
    assert.equal(
      code(() => parseDocument("t", Buffer.from(sample.slice(0, cut)))),
      "UWSGI_STATS_TRUNCATED",
      `cut at ${cut}`,
    );
  }
});

test("garbage is INVALID_JSON and JSON that is not an object is UNEXPECTED_DOCUMENT", () => {
  assert.equal(
    code(() => parseDocument("t", Buffer.from("hello world\n"))),
    "UWSGI_STATS_INVALID_JSON",
  );
  assert.equal(
    code(() => parseDocument("t", Buffer.from("{ nope }"))),
    "UWSGI_STATS_INVALID_JSON",
  );
  assert.equal(
    code(() => parseDocument("t", Buffer.from("[1,2]"))),
    "UWSGI_STATS_UNEXPECTED_DOCUMENT",
  );
});

test("an error carries a printable excerpt of what arrived", () => {
  try {
    parseDocument("t", Buffer.from("\u0000\u0001garbage"));
    assert.fail("no error");
  } catch (err) {
    assert.ok(err instanceof UwsgiStatsError);
    assert.equal(err.excerpt, "\\x00\\x01garbage");
    assert.equal(err.bytes, 9);
  }
});
