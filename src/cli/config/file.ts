import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CliUsageError } from "../errors.js";
import { SETTINGS, type RawSettings, type RawValue } from "./settings.js";
import { didYouMean } from "./suggest.js";

/**
 * Reads a config file: a JSON object (`.json`) or a YAML mapping (anything else) whose keys are the flag
 * names without `--` (`interval: 1s`, `forward: [a:24224, b:24224]`). Unknown keys and unreadable or
 * malformed files are CliUsageErrors.
 */
export function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliUsageError(
      `--config: cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const parse = path.endsWith(".json") ? (json: string): unknown => JSON.parse(json) : yamlParser(path);
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    // yaml's first line ends "at line 1, column 4:" before a quote of the source, which is left out (it may hold a key).
    const reason = ((err as Error).message.split("\n")[0] ?? "").trim().replace(/:$/, "");
    throw new CliUsageError(
      `--config: ${JSON.stringify(path)} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${reason}`,
    );
  }
  const settings: RawSettings = new Map();
  if (document === null || document === undefined) return settings;
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new CliUsageError(
      `--config: ${JSON.stringify(path)} must hold a mapping of settings (interval: 1s, ...)`,
    );
  }
  const known = SETTINGS.filter((s) => s.inFile);
  for (const [key, value] of Object.entries(document)) {
    const setting = known.find((s) => s.key === key);
    const where = `${key} in ${path}`;
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
 * load the `yaml` package. (A synchronous require, so that reading the config stays synchronous.)
 */
function yamlParser(path: string): (text: string) => unknown {
  try {
    return (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse;
  } catch (err) {
    throw new CliUsageError(
      `--config: ${JSON.stringify(path)} is YAML, and the yaml package cannot be loaded ` +
        `(${(err as NodeJS.ErrnoException).code ?? err}): reinstall uwsgi-forward with its dependencies, or give a .json file`,
    );
  }
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
    `${where}: expected a string, got ${Array.isArray(value) ? "a list" : typeof value}`,
  );
}
