import { test } from "node:test";
import assert from "node:assert/strict";
import type { ForwardItem } from "../../src/item.js";
import { MAX_UNDECLARED_FIELDS } from "../../src/uwsgi/keys.js";
import { DEFAULT_TAGS, STATS_SHAPES } from "../../src/uwsgi/options.js";
import { UwsgiStatsError } from "../../src/uwsgi/errors.js";
import { RECORD_SCHEMA, type SchemaShape } from "../../src/uwsgi/shapes/schema.js";
import { DocumentShaper } from "../helpers/uwsgi-shaper.js";
import { uwsgiSample } from "../helpers/uwsgi-samples.js";

// A seeded fuzzer over stats documents: real samples, mutated (wrong types, fractions, 1e400, document keys named
// like the source's fields, thousands of new keys, removed keys, arrays for objects, garbage bytes), shaped into
// every shape as the source does. Bounded by time: FUZZ_SECONDS (default 3 in npm test), seed FUZZ_SEED
// (default 1); scripts/fuzz.mjs runs it for minutes. A failure names the seed and the case to replay.

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
const SAMPLES = [
  "big-t0.json",
  "big-t1.json",
  "g_metrics_crons_daemons.json",
  "a_seed_unix_busy_inflight_request.json",
  "old-uwsgi-no-version.json",
  "e_emperor_own_stats_server.json",
];
const GOOD = JSON.parse(uwsgiSample("big-t1.json").toString("utf8")) as object;
const SHAPE_OF_TAG = new Map<string, SchemaShape>(
  (Object.keys(DEFAULT_TAGS) as (keyof typeof DEFAULT_TAGS)[])
    .filter((k) => k !== "error")
    .map((k) => [DEFAULT_TAGS[k], k === "raw" ? "raw" : (k as SchemaShape)]),
);
/** Fields that depend on the previous poll (and so on the document before): left out of the comparison. */
const HISTORY = /(_per_sec|^interval_ms|^response_time_us|^reset|^respawned)$/;

/** mulberry32: a small seeded generator, enough to replay a case from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_KEYS = [
  "target",
  "repaired",
  "host",
  "master_pid",
  "requests_per_sec",
  "interval_ms",
  "__proto__",
  "constructor",
  "x y",
  "0",
  "",
  "respawned",
  "worker_id",
  "name",
  "type",
];

function hostileValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 16);
  switch (pick) {
    case 0:
      return "5";
    case 1:
      return -1;
    case 2:
      return 1.5;
    case 3:
      return 2 ** 60;
    case 4:
      return true;
    case 5:
      return null;
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return "x".repeat(Math.floor(next() * 3000));
    case 9:
      return '\u0000\ud800é"\\';
    case 10:
      return -0;
    case 11:
      return depth < 4 ? { [pickOf(next, HOSTILE_KEYS)]: hostileValue(next, depth + 1) } : 0;
    case 12:
      return depth < 4 ? [hostileValue(next, depth + 1), hostileValue(next, depth + 1)] : "";
    case 13:
      return Math.floor(next() * 1e6);
    case 14:
      return "INF_MARKER";
    default:
      return Number.MAX_SAFE_INTEGER + 2;
  }
}

function pickOf<T>(next: () => number, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)] as T;
}

/** Every container of `value` with its path, to pick one to mutate. */
function containers(value: unknown, out: object[] = []): object[] {
  if (typeof value !== "object" || value === null) return out;
  out.push(value);
  for (const child of Object.values(value)) containers(child, out);
  return out;
}

/** One hostile document: a sample mutated a few times, as text (with 1e400 and, rarely, broken bytes). */
function hostileDocument(next: () => number): string {
  const doc = JSON.parse(uwsgiSample(pickOf(next, SAMPLES)).toString("utf8")) as Record<string, unknown>;
  const mutations = 1 + Math.floor(next() * 12);
  for (let m = 0; m < mutations; m++) {
    const all = containers(doc);
    const target = pickOf(next, all) as Record<string, unknown>;
    const keys = Object.keys(target);
    const kind = Math.floor(next() * 6);
    if (kind === 0 && keys.length > 0) delete target[pickOf(next, keys)];
    else if (kind === 1 && keys.length > 0) target[pickOf(next, keys)] = hostileValue(next);
    else if (kind === 2)
      Object.defineProperty(target, pickOf(next, HOSTILE_KEYS), {
        value: hostileValue(next),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    else if (kind === 3) {
      const many = Math.floor(next() * 3000);
      for (let k = 0; k < many; k++) target[`f${Math.floor(next() * 1e9)}`] = k;
    } else if (kind === 4 && Array.isArray(target) && target.length > 0)
      target.push(structuredClone(target[0]));
    else if (keys.length > 0) target[pickOf(next, keys)] = hostileValue(next);
  }
  let text = JSON.stringify(doc).replaceAll('"INF_MARKER"', next() < 0.5 ? "1e400" : "-1e400");
  if (next() < 0.05) text = text.slice(0, Math.floor(next() * text.length));
  if (next() < 0.05) text = text.replace(/"/, '"\u0001"');
  return text;
}

function checkItems(items: ForwardItem[], where: string, shaper: DocumentShaper): void {
  for (const { tag, record } of items) {
    const shape = SHAPE_OF_TAG.get(tag);
    assert.ok(shape, `${where}: unexpected tag ${tag}`);
    assert.equal(record.target, shaper.target, `${where}: ${tag}.target`);
    assert.equal(record.host, "h", `${where}: ${tag}.host`);
    assert.equal(typeof record.repaired, "boolean", `${where}: ${tag}.repaired`);
    JSON.stringify(record, (key, v: unknown) => {
      if (typeof v === "number") assert.ok(Number.isFinite(v), `${where}: ${tag}.${key} = ${String(v)}`);
      return v;
    });
    if (shape === "raw") continue;
    const schema = RECORD_SCHEMA[shape];
    for (const [key, value] of Object.entries(record)) {
      assert.match(key, KEY, `${where}: ${tag} key ${JSON.stringify(key)}`);
      assert.ok(
        ["number", "string", "boolean"].includes(typeof value),
        `${where}: ${tag}.${key} is ${typeof value}`,
      );
      const type = schema.typeOf(key);
      if (type === undefined) {
        assert.ok(schema.openEnded || key === "host", `${where}: ${tag}.${key} is not declared`);
        assert.ok(
          typeof value === "string" || Number.isSafeInteger(value),
          `${where}: ${tag}.${key} = ${String(value)}`,
        );
      } else if (type === "integer")
        assert.ok(Number.isSafeInteger(value), `${where}: ${tag}.${key} = ${String(value)}`);
      else if (type === "float") assert.equal(typeof value, "number", `${where}: ${tag}.${key}`);
      else assert.equal(typeof value, type, `${where}: ${tag}.${key} = ${String(value)}`);
      if (key.endsWith("_per_sec"))
        assert.ok((value as number) >= 0, `${where}: ${tag}.${key} = ${String(value)}`);
    }
  }
  for (const tag of SHAPE_OF_TAG.keys())
    assert.ok(shaper.types.size(tag) <= MAX_UNDECLARED_FIELDS, `${where}: ${tag} registry`);
}

/** The records of a good document without the fields that depend on the poll before. */
function withoutHistory(items: ForwardItem[]): { tag: string; record: Record<string, unknown> }[] {
  return items.map(({ tag, record }) => ({
    tag,
    record: Object.fromEntries(Object.entries(record).filter(([k]) => !HISTORY.test(k))),
  }));
}

test(`fuzzed stats documents (seed ${SEED}, ${SECONDS} s): every record typed, finite and our own, and a good document after them unchanged`, () => {
  const deadline = Date.now() + SECONDS * 1000;
  const shaper = new DocumentShaper(STATS_SHAPES);
  const expected = withoutHistory(new DocumentShaper(STATS_SHAPES).shape(GOOD, 0).items);
  let cases = 0;
  let rejected = 0;
  let dropped = 0;
  for (let i = 0; cases === 0 || Date.now() < deadline; i++) {
    const next = random(SEED * 1_000_003 + i);
    const text = hostileDocument(next);
    const where = `FUZZ_SEED=${SEED} case ${i} (${text.slice(0, 200)}…)`;
    let shaped;
    try {
      shaped = shaper.shape(text, i * 1000);
    } catch (err) {
      assert.ok(err instanceof UwsgiStatsError, `${where}: ${String(err)}`);
      rejected++;
      continue;
    }
    cases++;
    dropped += shaped.dropped;
    checkItems(shaped.items, where, shaper);
    if (i % 5 === 0) {
      const good = shaper.shape(GOOD, i * 1000 + 500);
      assert.equal(good.dropped, 0, where);
      assert.deepEqual(withoutHistory(good.items), expected, `${where}: the good document after it`);
    }
  }
  process.stdout.write(
    `# fuzz-documents: seed ${SEED}, ${cases} documents shaped, ${rejected} rejected, ${dropped} fields left out\n`,
  );
  assert.ok(cases > 0);
});
