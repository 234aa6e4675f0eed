import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliUsageError } from "../errors.js";
import { cut, quote } from "./quote.js";
import { COMMAND_FLAGS, SETTINGS, type RawSettings } from "./settings.js";
import { didYouMean } from "./suggest.js";

/** The command line, parsed: settings given as flags, and whether --help or --version was asked for. */
export interface ParsedFlags {
  readonly settings: RawSettings;
  readonly help: boolean;
  readonly version: boolean;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs' options, from the settings table: lists repeat, booleans also have a `--no-` form. */
function argOptions(): Options {
  const options: Options = {
    help: { type: "boolean", short: COMMAND_FLAGS.help.short.slice(1) },
    version: { type: "boolean", short: COMMAND_FLAGS.version.short.slice(1) },
  };
  for (const setting of SETTINGS) {
    if (setting.flag === undefined) continue;
    if (setting.kind === "boolean") {
      options[setting.key] = { type: "boolean" };
      options[`no-${setting.key}`] = { type: "boolean" };
    } else {
      options[setting.key] = {
        type: "string",
        multiple: setting.kind === "list" || setting.kind === "enumList",
      };
    }
  }
  return options;
}

/** Every flag a user can write, for suggestions. */
function knownFlags(options: Options): string[] {
  return Object.keys(options).map((name) => `--${name}`);
}

/**
 * Parses argv (without node and the script) with `node:util` parseArgs, strict: `--flag value`,
 * `--flag=value`, `--bool`, `--no-bool`, repeatable list flags, `-h`, `-V`. Throws a CliUsageError naming the
 * flag, with the nearest known flag for a misspelt one.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const options = argOptions();
  let parsed: ReturnType<typeof parseStrict>;
  try {
    parsed = parseStrict(argv, options);
  } catch (err) {
    throw usageError(err, argv, options);
  }
  const { values, tokens } = parsed;
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option" || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) {
      throw new CliUsageError(`--${token.name}: given twice; give it once (only list flags repeat)`);
    }
    seen.add(token.name);
  }
  const settings: RawSettings = new Map();
  for (const setting of SETTINGS) {
    if (setting.flag === undefined) continue;
    const value = values[setting.key];
    if (setting.kind === "boolean") {
      const negated = values[`no-${setting.key}`] === true;
      if (value === true && negated) {
        throw new CliUsageError(`${setting.flag} and --no-${setting.key} contradict each other; give one`);
      }
      if (value === true) settings.set(setting.key, { value: true, where: setting.flag });
      if (negated) settings.set(setting.key, { value: false, where: `--no-${setting.key}` });
    } else if (value !== undefined) {
      settings.set(setting.key, {
        value: Array.isArray(value) ? value.map(String) : String(value),
        where: setting.flag,
      });
    }
  }
  return { settings, help: values.help === true, version: values.version === true };
}

/** parseArgs, strict, with the tokens (to find flags given twice). */
function parseStrict(argv: readonly string[], options: Options) {
  return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true });
}

/** A parseArgs failure as one line naming the flag; the tokens of a lenient parse say which flag it was. */
function usageError(err: unknown, argv: readonly string[], options: Options): CliUsageError {
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const known = knownFlags(options);
  for (const token of tokens) {
    if (token.kind === "positional") {
      return new CliUsageError(
        `unexpected argument ${quote(token.value)}: every setting is a --flag (see --help)`,
      );
    }
    if (token.kind !== "option") continue;
    const spec = options[token.name];
    const flag = cut(token.rawName);
    if (spec === undefined) {
      if (token.name === "password") {
        return new CliUsageError(
          `unknown flag ${flag}; give the password with --password-file or UWSGI_FORWARD_PASSWORD (see --help)`,
        );
      }
      return new CliUsageError(`unknown flag ${flag}${didYouMean(token.rawName, known)} (see --help)`);
    }
    if (spec.type === "boolean" && token.inlineValue === true) {
      const bare = token.name.replace(/^no-/, "");
      return new CliUsageError(`${flag} takes no value: write --${bare} for true, --no-${bare} for false`);
    }
    // parseArgs refuses a value that looks like a flag (`--stats --once`) unless written `--stats=-x`.
    const missing = token.value === undefined || (token.inlineValue !== true && token.value.startsWith("-"));
    if (spec.type === "string" && missing) return new CliUsageError(`${flag}: needs a value; see --help`);
  }
  return new CliUsageError(`${cut((err as Error).message)} (see --help)`);
}
