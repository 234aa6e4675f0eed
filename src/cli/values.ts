import { readFileSync } from "node:fs";
import { parseDuration } from "./durations.js";
import { CliUsageError } from "./errors.js";
import { accepts, SETTINGS, type RawSetting, type RawSettings, type SettingSpec } from "./settings.js";
import { parseSize } from "./sizes.js";

/**
 * Typed access to merged raw settings (flag, environment or file values); every failure is a CliUsageError of
 * one line naming where the value was given and what the setting accepts.
 */
export class Values {
  constructor(private readonly raw: RawSettings) {}

  where(key: string): string {
    return this.raw.get(key)?.where ?? this.spec(key).flag ?? this.spec(key).env;
  }

  fail(key: string, expected: string, got?: RawSetting["value"]): never {
    const spec = this.spec(key);
    const where = this.where(key);
    const alias = spec.flag && !where.startsWith("--") ? ` (${spec.flag})` : "";
    const value = got === undefined ? "" : `, got ${JSON.stringify(got)}`;
    throw new CliUsageError(`${where}${alias}: expected ${expected}${value}`);
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

  enumList(key: string): string[] | undefined {
    const items = this.list(key)?.flatMap((item) => item.split(","));
    if (items === undefined) return undefined;
    for (const item of items) {
      if (!this.spec(key).values?.includes(item)) this.fail(key, accepts(this.spec(key)), item);
    }
    return [...new Set(items)];
  }

  readFile(key: string, path: string): string {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      return this.fail(
        key,
        `a readable file, but ${JSON.stringify(path)} gives ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  }

  private spec(key: string): SettingSpec {
    const found = SETTINGS.find((s) => s.key === key);
    if (!found) throw new Error(`unknown setting ${key}`);
    return found;
  }
}
