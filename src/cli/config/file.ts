import { createRequire } from "node:module";
import { CliUsageError } from "../errors.js";
import { cut, quote } from "./quote.js";
import { readSettingFile } from "./setting-file.js";
import { SETTINGS, type RawSettings, type RawValue } from "./settings.js";
import { didYouMean } from "./suggest.js";

/**
 * Reads a config file: a JSON object (`.json`) or a YAML mapping (anything else) whose keys are the flag
 * names without `--` (`interval: 1s`, `forward: [a:24224, b:24224]`). Unknown keys, YAML tags the command
 * does not know (`!custom`), files that are not regular files of at most SETTING_FILE_MAX_BYTES, and unreadable
 * or malformed files are CliUsageErrors.
 */
export function readConfigFile(path: string, label = "--config"): RawSettings {
  const read = readSettingFile(path);
  if ("refused" in read) throw new CliUsageError(`${label}: cannot read ${quote(path)}: ${read.refused}`);
  const parse = path.endsWith(".json")
    ? (json: string): unknown => JSON.parse(json)
    : yamlParser(path, label);
  let document: unknown;
  try {
    document = parse(read.text);
  } catch (err) {
    // yaml's first line ends "at line 1, column 4:" before a quote of the source, which is left out (it may hold a key).
    const reason = err instanceof CliUsageError ? err.message : firstLine((err as Error).message);
    throw new CliUsageError(
      `${label}: ${quote(path)} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${reason}`,
    );
  }
  const settings: RawSettings = new Map();
  if (document === null || document === undefined) return settings;
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new CliUsageError(`${label}: ${quote(path)} must hold a mapping of settings (interval: 1s, ...)`);
  }
  const known = SETTINGS.filter((s) => s.inFile);
  for (const [key, value] of Object.entries(document)) {
    const setting = known.find((s) => s.key === key);
    const where = `${cut(key)} in ${cut(path)}`;
    if (!setting) {
      const hint =
        didYouMean(
          key,
          known.map((s) => s.key),
        ) || "; see --help or docs/cli.md for every setting";
      throw new CliUsageError(`${where}: unknown setting${hint}`);
    }
    if (value === null || value === undefined) continue;
    settings.set(key, {
      value: toRaw(value, where, setting.kind === "list" || setting.kind === "enumList"),
      where,
    });
  }
  return settings;
}

/**
 * The YAML parser, loaded on the first YAML config file: the library, and a CLI that reads no YAML file, never
 * load the `yaml` package. (A synchronous require, so that reading the config stays synchronous.) The package's
 * errors and warnings (an unknown tag such as `!custom`) are never printed by it: the first one refuses the file,
 * in a CliUsageError of one line.
 */
function yamlParser(path: string, label: string): (text: string) => unknown {
  let yaml: typeof import("yaml");
  try {
    yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  } catch (err) {
    throw new CliUsageError(
      `${label}: ${quote(path)} is YAML, and the yaml package cannot be loaded ` +
        `(${(err as NodeJS.ErrnoException).code ?? err}): reinstall uwsgi-forward with its dependencies, or give a .json file`,
    );
  }
  return (text) => {
    const document = yaml.parseDocument(text, { logLevel: "silent" });
    const [problem] = [...document.errors, ...document.warnings];
    if (problem === undefined) return document.toJS({ maxAliasCount: 100 });
    const [line, column] = [problem.linePos?.[0]?.line, problem.linePos?.[0]?.col];
    const at = line === undefined ? "" : `line ${line}, column ${column ?? "?"}: `;
    const tag = /^Unresolved tag: (\S+)/.exec(problem.message)?.[1];
    const message = firstLine(problem.message);
    throw new CliUsageError(
      tag === undefined
        ? `${/ at line \d+, column \d+$/.test(message) ? "" : at}${message}`
        : `${at}unknown tag ${quote(tag)} (a config file holds plain values, lists and mappings, with no tags)`,
    );
  };
}

/** A parser's message as one line: its first line, without yaml's dangling colon before the quoted source. */
function firstLine(message: string): string {
  return cut((message.split("\n")[0] ?? "").trim().replace(/:$/, ""));
}

function toRaw(value: unknown, where: string, list: boolean): RawValue {
  if (list && Array.isArray(value)) return value.map((item) => scalarText(item, where));
  if (list) return [scalarText(value, where)];
  if (typeof value === "boolean") return value;
  return scalarText(value, where);
}

function scalarText(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new CliUsageError(
    `${where}: expected a string, got ${Array.isArray(value) ? "a list" : value === null ? "null" : typeof value}`,
  );
}
