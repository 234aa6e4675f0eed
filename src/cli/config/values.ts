import { parseDuration } from "./durations.js";
import { CliUsageError } from "../errors.js";
import { accepts, SETTINGS, type RawSetting, type RawSettings, type SettingSpec } from "./settings.js";
import { quote } from "./quote.js";
import { readSettingFile } from "./setting-file.js";
import { parseSize } from "./sizes.js";

/**
 * Typed access to merged raw settings (flag, environment or file values): text to durations, sizes, booleans
 * and lists. Ranges and allowed values are the library's to check (once, in its constructors); a syntax
 * failure here is a CliUsageError of one line naming where the value was given and what the setting accepts.
 */
export class Values {
  constructor(private readonly raw: RawSettings) {}

  where(key: string): string {
    return this.raw.get(key)?.where ?? this.spec(key).flag ?? this.spec(key).env;
  }

  /** Where the setting was given, with its flag when that was not a flag: `interval in /etc/a.yaml (--interval)`. */
  label(key: string): string {
    const spec = this.spec(key);
    const where = this.where(key);
    return spec.flag && !where.startsWith("--") ? `${where} (${spec.flag})` : where;
  }

  fail(key: string, expected: string, got?: RawSetting["value"]): never {
    const value = got === undefined ? "" : `, got ${quote(got)}`;
    throw new CliUsageError(`${this.label(key)}: expected ${expected}${value}`);
  }

  string(key: string): string | undefined {
    const value = this.raw.get(key)?.value;
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "") this.fail(key, accepts(this.spec(key)), value);
    return value;
  }

  list(key: string): string[] | undefined {
    const value = this.raw.get(key)?.value;
    if (value === undefined) return undefined;
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0 || items.some((item) => typeof item !== "string" || item === "")) {
      this.fail(key, accepts(this.spec(key)), value);
    }
    return items as string[];
  }

  boolean(key: string): boolean | undefined {
    const value = this.raw.get(key)?.value;
    if (value === undefined || typeof value === "boolean") return value;
    const text = String(value).toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return true;
    if (["false", "0", "no", "off"].includes(text)) return false;
    return this.fail(key, "true or false", value);
  }

  duration(key: string): number | undefined {
    const value = this.raw.get(key)?.value;
    if (value === undefined) return undefined;
    const ms = typeof value === "string" ? parseDuration(value) : undefined;
    return ms ?? this.fail(key, accepts(this.spec(key)), value);
  }

  size(key: string): number | undefined {
    const value = this.raw.get(key)?.value;
    if (value === undefined) return undefined;
    const bytes = typeof value === "string" ? parseSize(value) : undefined;
    return bytes ?? this.fail(key, accepts(this.spec(key)), value);
  }

  enumValue(key: string): string | undefined {
    const value = this.string(key);
    if (value !== undefined && !this.spec(key).values?.includes(value))
      this.fail(key, accepts(this.spec(key)), value);
    return value;
  }

  /** A list whose items may also be comma-separated (`--shape summary,worker`); the library checks the items. */
  commaList(key: string): string[] | undefined {
    const items = this.list(key)?.flatMap((item) => item.split(","));
    return items === undefined ? undefined : [...new Set(items)];
  }

  /** The text of the file a setting names: a regular file of at most SETTING_FILE_MAX_BYTES (readSettingFile). */
  readFile(key: string, path: string): string {
    const read = readSettingFile(path);
    if ("refused" in read) {
      const why = read.code === undefined ? `is ${read.refused}` : `gives ${read.code}`;
      this.fail(key, `a readable file, but ${quote(path)} ${why}`);
    }
    return read.text;
  }

  private spec(key: string): SettingSpec {
    const found = SETTINGS.find((s) => s.key === key);
    if (!found) throw new Error(`unknown setting ${key}`);
    return found;
  }
}
