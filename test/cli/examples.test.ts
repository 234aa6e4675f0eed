import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ForwardItem } from "../../src/index.js";
import { ROOT } from "../helpers/cli-process.js";
import { parseFluentBitClassic } from "../helpers/fluent-bit-config.js";
import { startCliReceiver } from "../helpers/cli-receiver.js";
import { recordsFromSamples } from "../helpers/cli-samples.js";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { testWithUwsgi } from "../helpers/uwsgi-installed.js";
import { freePort } from "../helpers/free-port.js";

const EXAMPLES = join(ROOT, "examples");
const read = (name: string): string => readFileSync(join(EXAMPLES, name), "utf8");

function startExample(t: { after: (fn: () => Promise<void>) => void }, file: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["--import", "tsx", join("examples", file)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

testWithUwsgi(
  "examples/sidecar.ts pipes a real uWSGI's stats into a FluentServer and delivers everything on SIGTERM",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);
    const example = startExample(t, "sidecar.ts", {
      STATS: uwsgi.stats,
      FORWARD_PORT: String(receiver.port),
      INTERVAL_MS: "200",
    });
    await receiver.waitFor(
      (events) =>
        events.some((e) => e.tag === "uwsgi.summary") && events.some((e) => e.tag === "uwsgi.worker"),
      "summary and worker records",
    );
    example.child.kill("SIGTERM");
    assert.equal(await example.exited, 0, example.stderr());
    assert.match(example.stdout(), /all delivered/);
    assert.equal(receiver.events.find((e) => e.tag === "uwsgi.summary")?.record.target, uwsgi.stats);
  },
);

testWithUwsgi(
  "examples/sidecar.ts exits on SIGTERM while Fluentd is down, within its closeTimeoutMs, saying what it gave up",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const example = startExample(t, "sidecar.ts", {
      STATS: uwsgi.stats,
      FORWARD_PORT: String(await freePort()),
      INTERVAL_MS: "200",
    });
    while (!/FORWARD_CONNECT_FAILED/.test(example.stderr())) await once(example.child.stderr, "data");
    example.child.kill("SIGTERM");
    assert.equal(await example.exited, 0, example.stderr());
    assert.match(example.stdout(), /[1-9]\d* events undelivered/);
  },
);

testWithUwsgi(
  "examples/http-app.ts sends its access log and its uWSGI neighbour's stats through one sink",
  async (t) => {
    const uwsgi = await startCliUwsgi(t);
    const receiver = await startCliReceiver(t);
    const example = startExample(t, "http-app.ts", {
      STATS: uwsgi.stats,
      PORT: "0",
      FORWARD_PORT: String(receiver.port),
      INTERVAL_MS: "200",
    });
    while (!/listening on/.test(example.stdout())) await once(example.child.stdout, "data");
    const url = /listening on (\S+)/.exec(example.stdout())?.[1] ?? "";
    for (const path of ["/", "/orders?id=7"]) assert.equal((await fetch(url + path)).status, 200);
    await receiver.waitFor(
      (events) =>
        events.filter((e) => e.tag === "app.access").length === 2 &&
        events.some((e) => e.tag === "uwsgi.summary"),
      "two access records and a summary",
    );
    const access = receiver.events.filter((e) => e.tag === "app.access").map((e) => e.record);
    assert.deepEqual(
      access.map((r) => [r.method, r.path, r.status, r.bytes]),
      [
        ["GET", "/", 200, 6],
        ["GET", "/orders?id=7", 200, 6],
      ],
    );
    assert.equal(typeof access[0]?.duration_ms, "number");
    example.child.kill("SIGTERM");
    assert.equal(await example.exited, 0, example.stderr());
  },
);

/** A minimal reader of Fluentd's config syntax: `<section arg>` … `</section>` and `key value` lines. */
interface Section {
  name: string;
  arg: string;
  params: Map<string, string>;
  children: Section[];
}

function parseFluentdConfig(text: string): Section {
  const root: Section = { name: "root", arg: "", params: new Map(), children: [] };
  const stack = [root];
  for (const raw of text.split("\n")) {
    const line = raw
      .replace(/\s+#.*$/, "")
      .replace(/^#.*$/, "")
      .trim();
    if (line === "") continue;
    const open = /^<([a-z_]+)\s*([^>]*)>$/.exec(line);
    const close = /^<\/([a-z_]+)>$/.exec(line);
    const top = stack.at(-1) as Section;
    if (open) {
      const section: Section = {
        name: open[1] as string,
        arg: (open[2] as string).trim(),
        params: new Map(),
        children: [],
      };
      top.children.push(section);
      stack.push(section);
    } else if (close) {
      assert.equal(top.name, close[1], `unbalanced </${close[1]}>`);
      stack.pop();
    } else {
      const [key, ...value] = line.split(/\s+/);
      top.params.set(key as string, value.join(" "));
    }
  }
  assert.equal(stack.length, 1, "every section is closed");
  return root;
}

/** Fluentd's match patterns: `*` one tag part, `**` zero or more parts, several patterns separated by spaces. */
function fluentdMatches(pattern: string, tag: string): boolean {
  return pattern.split(/\s+/).some((p) => {
    const regex = p
      .split(".")
      .map((part) => (part === "**" ? "(?:[^.]+(?:\\.[^.]+)*)?" : part.replace(/\*/g, "[^.]*")))
      .join("\\.");
    return new RegExp(`^${regex}$`).test(tag);
  });
}

/** What fluent-plugin-norikra does with a tag (target_map_tag, remove_tag_prefix, Target.escape). */
function norikraTarget(tag: string, removePrefix: string): string {
  return tag
    .replace(new RegExp(`^${removePrefix.replace(/\./g, "\\.")}(\\.)?`), "")
    .replace(/[^_a-zA-Z0-9]/g, "_");
}

const DEFAULT_TAGS = [
  "uwsgi.stats",
  "uwsgi.summary",
  "uwsgi.worker",
  "uwsgi.flat",
  "uwsgi.emperor",
  "uwsgi.socket",
  "uwsgi.app",
  "uwsgi.core",
  "uwsgi.cache",
  "uwsgi.spooler",
  "uwsgi.metric",
];

async function sampleFields(t: {
  after: (fn: () => void) => void;
}): Promise<Map<string, ForwardItem["record"][]>> {
  const items = [
    ...(await recordsFromSamples(t, "a_seed_unix_load_t0.json", "a_seed_unix_load_t0plus2s.json", [
      "summary",
      "worker",
    ])),
    ...(await recordsFromSamples(
      t,
      "f_harakiri_maxreq_load_t0.json",
      "f_harakiri_maxreq_load_t0plus3s.json",
      ["summary", "worker"],
    )),
    ...(await recordsFromSamples(t, "big-t0.json", "big-t1.json", [
      "socket",
      "app",
      "core",
      "cache",
      "spooler",
    ])),
    ...(await recordsFromSamples(t, "big-metrics.json", "big-metrics.json", ["metric"])),
  ];
  const byTag = new Map<string, ForwardItem["record"][]>();
  for (const item of items) byTag.set(item.tag, [...(byTag.get(item.tag) ?? []), item.record]);
  return byTag;
}

test("td-agent.conf sends our tags to Norikra with no option that does nothing and no field declaration", () => {
  const config = parseFluentdConfig(read("td-agent.conf"));
  const source = config.children.find((s) => s.name === "source");
  assert.equal(source?.params.get("@type"), "forward");
  assert.equal(source?.params.get("port"), "24224", "the sidecar's default --forward port");

  const matches = config.children.filter((s) => s.name === "match");
  const first = (tag: string): Section | undefined => matches.find((m) => fluentdMatches(m.arg, tag));
  assert.equal(first("uwsgi.health")?.params.get("@type"), "stdout", "health stays out of Norikra");
  const norikra = first("uwsgi.summary");
  assert.equal(norikra?.params.get("@type"), "norikra");
  for (const tag of DEFAULT_TAGS) assert.equal(first(tag), norikra, tag);
  assert.equal(norikra?.params.get("target_map_tag"), "true");
  assert.equal(norikra?.params.get("remove_tag_prefix"), "uwsgi", "the sidecar's default --tag-prefix");
  assert.equal(norikra?.params.get("drop_server_error_record"), "true");
  // fluent-plugin-norikra 0.4.4 loses escape_fieldname when it merges <default> and <target>; auto_field is
  // on by default; and any field_* reserve on a target that a query opened first breaks Norikra 1.5.1.
  assert.deepEqual(norikra?.children, [], "no <default> or <target> sections");
  assert.deepEqual([...(norikra?.params.keys() ?? [])].sort(), [
    "@type",
    "drop_server_error_record",
    "norikra",
    "remove_tag_prefix",
    "target_map_tag",
  ]);
});

test("every target and field named in norikra/queries.sql exists in the records the plugin derives from our tags", async (t) => {
  const config = parseFluentdConfig(read("td-agent.conf"));
  const prefix =
    config.children.find((s) => s.params.get("@type") === "norikra")?.params.get("remove_tag_prefix") ?? "";
  const targetToTag = new Map(DEFAULT_TAGS.map((tag) => [norikraTarget(tag, prefix), tag]));
  const byTag = await sampleFields(t);
  const sql = read("norikra/queries.sql").replace(/--.*$/gm, "");
  const statements = sql
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
  assert.ok(statements.length >= 5);
  const KEYWORDS = new Set([
    "select",
    "from",
    "group",
    "by",
    "as",
    "where",
    "and",
    "or",
    "not",
    "having",
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "win",
    "time_batch",
    "sec",
    "minute",
    "hour",
    "like",
  ]);
  const named = read("norikra/queries.sql").match(/^-- name: \w+$/gm) ?? [];
  assert.equal(named.length, statements.length, "every query has a name");
  for (const statement of statements) {
    const from = [...statement.matchAll(/from\s+(\w+)\.win:/gi)].map((m) => m[1] as string);
    assert.equal(from.length, 1, statement);
    const target = from[0] as string;
    assert.match(target, /^[a-zA-Z]([_a-zA-Z0-9]*[a-zA-Z0-9])?$/, "a valid Norikra target name");
    const tag = targetToTag.get(target);
    assert.ok(tag, `target ${target} comes from one of our tags`);
    const records = byTag.get(tag) ?? [];
    const aliases = new Set([...statement.matchAll(/\bas\s+(\w+)/gi)].map((m) => m[1] as string));
    const identifiers = (
      statement
        .replace(/'[^']*'/g, " ")
        .replace(/\d+(\.\d+)?/g, " ")
        .match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []
    ).filter((word) => !KEYWORDS.has(word.toLowerCase()) && !aliases.has(word) && word !== target);
    for (const field of new Set(identifiers)) {
      assert.ok(
        records.some((r) => field in r),
        `${field} in "${statement.slice(0, 60)}…" is a field of ${tag} records`,
      );
    }
  }
});

test("fluent-bit.conf listens where the sidecar sends by default and forwards our tags to td-agent's port", () => {
  const sections = parseFluentBitClassic(read("fluent-bit.conf"));
  const input = sections.find((s) => s.name === "INPUT");
  assert.equal(input?.params.get("name"), "forward");
  assert.equal(`${input?.params.get("listen")}:${input?.params.get("port")}`, "127.0.0.1:24224");
  const output = sections.find((s) => s.name === "OUTPUT");
  assert.equal(output?.params.get("name"), "forward");
  const tdAgent = parseFluentdConfig(read("td-agent.conf")).children.find((s) => s.name === "source");
  assert.equal(output?.params.get("port"), tdAgent?.params.get("port"));
  const match = new RegExp(
    `^${(output?.params.get("match") ?? "").replace(/\./g, "\\.").replace(/\*/g, ".*")}$`,
  );
  for (const tag of [...DEFAULT_TAGS, "uwsgi.health", "uwsgi.error"]) assert.match(tag, match);
});
