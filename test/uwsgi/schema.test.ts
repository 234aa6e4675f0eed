import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RECORD_SCHEMA, type ForwardItem, type SchemaShape } from "../../src/index.js";
import { parseDocument } from "../../src/uwsgi/parse.js";
import { emperorItems } from "../../src/uwsgi/shapes/items.js";
import { hasFieldType, TypeRegistry } from "../../src/uwsgi/keys.js";
import { DEFAULT_TAGS } from "../../src/uwsgi/options.js";
import { ROOT } from "../helpers/cli-process.js";
import { recordsFromSamples } from "../helpers/cli-samples.js";
import { recordBytes } from "../helpers/record-bytes.js";
import { UWSGI_SAMPLES } from "../helpers/uwsgi-samples.js";

const PAIRS: [string, string][] = [
  ["a_seed_unix_load_t0.json", "a_seed_unix_load_t0plus2s.json"],
  ["f_harakiri_maxreq_load_t0.json", "f_harakiri_maxreq_load_t0plus3s.json"],
  ["d_big_before_sighup_reload.json", "d_big_after_sighup_reload_counters_reset.json"],
  ["j_stats-no-cores.json", "j_stats-no-cores.json"],
  ["g_metrics_crons_daemons.json", "g_metrics_crons_daemons.json"],
  ["big-t0.json", "big-t1.json"],
];

const ENTITIES = ["socket", "app", "core", "cache", "spooler", "metric"] as const;

const SHAPE_OF_TAG: Record<string, SchemaShape> = {
  [DEFAULT_TAGS.raw]: "raw",
  [DEFAULT_TAGS.summary]: "summary",
  [DEFAULT_TAGS.worker]: "worker",
  [DEFAULT_TAGS.flat]: "flat",
  [DEFAULT_TAGS.emperor]: "emperor",
  ...Object.fromEntries(ENTITIES.map((shape) => [DEFAULT_TAGS[shape], shape])),
};

async function sampleItems(t: { after: (fn: () => void) => void }): Promise<ForwardItem[]> {
  const items: ForwardItem[] = [];
  for (const [first, second] of PAIRS) {
    items.push(
      ...(await recordsFromSamples(t, first, second, ["raw", "summary", "worker", "flat", ...ENTITIES])),
    );
  }
  const doc = parseDocument("e", readFileSync(join(UWSGI_SAMPLES, "e_emperor_own_stats_server.json"))).doc;
  const options = { shapes: new Set(["raw" as const]), tags: DEFAULT_TAGS, escapeKeys: false };
  items.push(...emperorItems(doc, "e", false, 0, options, new TypeRegistry()));
  return items;
}

test("every field of every record of every shape of the samples is declared, with its value of that type", async (t) => {
  const items = await sampleItems(t);
  const seen = new Set<string>();
  for (const { tag, record } of items) {
    const shape = SHAPE_OF_TAG[tag];
    assert.ok(shape, `unexpected tag ${tag}`);
    const schema = RECORD_SCHEMA[shape];
    seen.add(shape);
    for (const [key, value] of Object.entries(record)) {
      const type = schema.typeOf(key);
      if (type === undefined) {
        assert.ok(schema.openEnded, `${shape}.${key} is not in the schema`);
        if (shape === "raw") continue;
        assert.ok(
          Number.isSafeInteger(value) || typeof value === "string",
          `${shape}.${key}: ${String(value)}`,
        );
        continue;
      }
      assert.ok(hasFieldType(value, type), `${shape}.${key} = ${JSON.stringify(value)} is not ${type}`);
    }
  }
  assert.deepEqual([...seen].sort(), ["emperor", "flat", "raw", "summary", "worker", ...ENTITIES].sort());
});

test("the rate fields are declared as floats in every shape with rates, and nothing else is", () => {
  const rates = [
    "interval_ms",
    "requests_per_sec",
    "exceptions_per_sec",
    "harakiri_per_sec",
    "respawns_per_sec",
    "tx_per_sec",
    "response_time_us",
  ];
  for (const shape of ["summary", "worker"] as const) {
    assert.deepEqual([...RECORD_SCHEMA[shape].floatFields].sort(), [...rates].sort());
  }
  for (const shape of ["raw", "flat", "emperor", "socket"] as const)
    assert.equal(RECORD_SCHEMA[shape].floatFields.size, 0);
  for (const shape of ["app", "core", "cache", "spooler", "metric"] as const) {
    const floats = RECORD_SCHEMA[shape].fields.filter((f) => f.type === "float").map((f) => f.name);
    assert.deepEqual(
      floats,
      ["interval_ms", ...floats.filter((f) => f.endsWith("_per_sec"))],
      `${shape}: interval_ms and the rates, nothing else`,
    );
    assert.deepEqual([...RECORD_SCHEMA[shape].floatFields].sort(), [...floats].sort());
  }
});

test("every item but raw carries their shape's one floatFields set; raw items none", async (t) => {
  const items = await sampleItems(t);
  for (const item of items) {
    const shape = SHAPE_OF_TAG[item.tag] as SchemaShape;
    if (shape === "raw") assert.equal(item.floatFields, undefined);
    else assert.equal(item.floatFields, RECORD_SCHEMA[shape].floatFields, `${item.tag}: the shared set`);
  }
});

test("every float field of the sample records is encoded as msgpack float64, whole numbers included", async (t) => {
  const items = await sampleItems(t);
  let whole = 0;
  let checked = 0;
  for (const { record, floatFields } of items) {
    for (const key of floatFields ?? []) {
      const value = record[key];
      if (value === undefined) continue;
      if (Number.isInteger(value)) whole++;
      const bytes = recordBytes({ [key]: value }, floatFields);
      // fixmap(1), fixstr key, then the value's first byte: 0xcb is float64.
      assert.equal(bytes[2 + key.length], 0xcb, `${key} = ${String(value)}`);
      checked++;
    }
  }
  assert.ok(checked > 50, `checked ${checked}`);
  assert.ok(whole > 0, "some rates of the samples are whole numbers (0 exceptions per second)");
});

/** The `| \`field\`, \`field\` | type |` rows of one `## \`shape\`` section of docs/records.md. */
function documentedTypes(markdown: string, shape: SchemaShape): Map<string, string> {
  const start = markdown.indexOf(`## \`${shape}\``);
  assert.ok(start >= 0, `docs/records.md has a section for ${shape}`);
  const end = markdown.indexOf("\n## ", start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const types = new Map<string, string>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || !cells[1]?.startsWith("`")) continue;
    const names = [...(cells[1] ?? "").matchAll(/`([A-Za-z_<>][A-Za-z0-9_<>]*)`/g)].map(
      (m) => m[1] as string,
    );
    const typeCell = cells[2] ?? "";
    const declared = typeCell.split(",").map((s) => s.trim());
    names.forEach((name, i) =>
      types.set(name, declared.length === names.length ? (declared[i] as string) : typeCell),
    );
  }
  return types;
}

test("docs/records.md lists every declared field of every shape with the schema's type", () => {
  const markdown = readFileSync(join(ROOT, "docs/records.md"), "utf8");
  for (const shape of ["summary", "worker", "emperor", ...ENTITIES] as const) {
    const documented = documentedTypes(markdown, shape);
    const declared = new Map(RECORD_SCHEMA[shape].fields.map((f) => [f.name, f.type as string]));
    assert.deepEqual(
      [...documented.entries()].sort(),
      [...declared.entries()].sort(),
      `docs/records.md, section ${shape}`,
    );
  }
  const flat = documentedTypes(markdown, "flat");
  for (const field of RECORD_SCHEMA.flat.fields)
    assert.equal(flat.get(field.name), field.type, `flat.${field.name}`);
});
