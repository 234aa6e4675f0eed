import { cut } from "./quote.js";
import { SETTINGS, type RawSettings } from "./settings.js";
import { nearest } from "./suggest.js";

/** What the environment gave: the settings, and a warning for every `UWSGI_FORWARD_*` variable that is not one. */
export interface EnvSettings {
  readonly settings: RawSettings;
  readonly warnings: string[];
}

const PREFIX = "UWSGI_FORWARD_";

/**
 * Reads every `UWSGI_FORWARD_*` setting from the environment. Lists are separated by whitespace;
 * booleans are true/false, 1/0, yes/no, on/off (checked later, with the other values); empty variables count
 * as unset. A variable with the prefix that names no setting is ignored with a warning naming the nearest one.
 */
export function readEnv(env: NodeJS.ProcessEnv): EnvSettings {
  const settings: RawSettings = new Map();
  for (const setting of SETTINGS) {
    const text = env[setting.env];
    if (text === undefined || text.trim() === "") continue;
    const value =
      setting.kind === "list" || setting.kind === "enumList" ? text.trim().split(/\s+/) : text.trim();
    settings.set(setting.key, { value, where: setting.env });
  }
  const known = SETTINGS.map((s) => s.env);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || known.includes(name)) continue;
    const near = nearest(
      name.slice(PREFIX.length),
      known.map((k) => k.slice(PREFIX.length)),
    );
    warnings.push(
      `${cut(name)} is not a setting and is ignored` +
        (near === undefined
          ? " (docs/cli.md lists every UWSGI_FORWARD_* variable)"
          : `; did you mean ${PREFIX}${near}?`),
    );
  }
  return { settings, warnings };
}
