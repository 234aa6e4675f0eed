import { CliUsageError } from "./errors.js";
import { COMMAND_FLAGS, SETTINGS, type RawSettings, type SettingSpec } from "./settings.js";

/** The command line, parsed: settings given as flags, and whether --help or --version was asked for. */
export interface ParsedFlags {
  readonly settings: RawSettings;
  readonly help: boolean;
  readonly version: boolean;
}

const BOOLEAN_TEXT: Record<string, boolean> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  yes: true,
  no: false,
};

/**
 * Parses argv (without node and the script): `--flag value`, `--flag=value`, `--bool`, `--bool=false`,
 * `--no-bool`, repeatable list flags, `-h`, `-V`. Throws CliUsageError for anything else.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const settings: RawSettings = new Map();
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === COMMAND_FLAGS.help.flag || arg === COMMAND_FLAGS.help.short) {
      help = true;
      continue;
    }
    if (arg === COMMAND_FLAGS.version.flag || arg === COMMAND_FLAGS.version.short) {
      version = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      throw new CliUsageError(
        `unexpected argument ${JSON.stringify(arg)}: every setting is a --flag (see --help)`,
      );
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const negated = name.startsWith("--no-") ? findFlag(`--${name.slice(5)}`) : undefined;
    if (negated?.kind === "boolean" && inline === undefined) {
      settings.set(negated.key, { value: false, where: name });
      continue;
    }
    const setting = findFlag(name);
    if (!setting) throw new CliUsageError(`unknown flag ${name}${suggest(name)} (see --help)`);
    if (setting.kind === "boolean") {
      let value = true;
      if (inline !== undefined) {
        const parsed = BOOLEAN_TEXT[inline.toLowerCase()];
        if (parsed === undefined) {
          throw new CliUsageError(`${name}: expected true or false, got ${JSON.stringify(inline)}`);
        }
        value = parsed;
      }
      settings.set(setting.key, { value, where: name });
      continue;
    }
    let text = inline;
    if (text === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw new CliUsageError(`${name}: needs a value (${setting.valueName}); see --help`);
      }
      text = next;
      i++;
    }
    if (setting.kind === "list" || setting.kind === "enumList") {
      const previous = settings.get(setting.key)?.value;
      const items = Array.isArray(previous) ? previous : [];
      settings.set(setting.key, { value: [...items, text], where: name });
    } else {
      settings.set(setting.key, { value: text, where: name });
    }
  }
  return { settings, help, version };
}

function findFlag(name: string): SettingSpec | undefined {
  return SETTINGS.find((s) => s.flag !== undefined && s.flag === name);
}

function suggest(name: string): string {
  const bare = name.replace(/^--(no-)?/, "");
  if (bare === "password") return "; give the password with --password-file or UWSGI_FORWARD_PASSWORD";
  const close = SETTINGS.filter((s) => s.flag && (s.key.startsWith(bare) || bare.startsWith(s.key)));
  return close.length > 0 ? `; did you mean ${close.map((s) => s.flag).join(" or ")}?` : "";
}
