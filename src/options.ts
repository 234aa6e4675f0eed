import { InvalidOptionError } from "./errors.js";

/** Rejects keys of `options` that are not in `known`, naming the known ones. */
export function rejectUnknownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(
        where ? `${where}.${key}` : key,
        `unknown option; known options are: ${known.join(", ")}`,
      );
    }
  }
}

/** Asserts that `value` is a plain object (or undefined when `optional`). */
export function assertObject(name: string, value: unknown, optional = false): asserts value is object {
  if (value === undefined && optional) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, `expected an object, got ${describe(value)}`);
  }
}

/**
 * A group of options such as `batch: { maxEvents, maxBytes }`: checks that `value` is an object (or undefined: then
 * `{}`, so every key takes its default) with only the `known` keys, and returns its keys to read.
 */
export function nestedOptions(
  name: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  assertObject(name, value, true);
  const group = (value ?? {}) as Record<string, unknown>;
  rejectUnknownKeys(name, group, known);
  return group;
}

/** Returns `value` (or `fallback` when undefined) after checking it is an integer within [min, max]. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(name, `expected an integer ${range}, got ${describe(value)}`);
  }
  return value;
}

/** Returns `value` (or `fallback`) after checking it is one of `allowed`. */
export function enumOption<T extends string>(
  name: string,
  value: unknown,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(
      name,
      `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${describe(value)}`,
    );
  }
  return value as T;
}

/** Returns `value` (or `fallback`) after checking it is a boolean. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw new InvalidOptionError(name, `expected true or false, got ${describe(value)}`);
  return value;
}

/** Returns `value` (or `fallback`) after checking it is a non-empty string. */
export function stringOption<F extends string | undefined>(
  name: string,
  value: unknown,
  fallback: F,
): string | F {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidOptionError(name, `expected a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** A short description of a value for error messages: `"abc"`, `42`, `an array`, `null`. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "object") return "an object";
  return String(value);
}
