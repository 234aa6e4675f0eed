import { SETTINGS, type RawSettings } from "./settings.js";

/**
 * Reads every `UWSGI_FORWARD_*` setting from the environment. Lists are separated by whitespace;
 * booleans are true/false, 1/0, yes/no, on/off (checked later, with the other values); empty variables count as unset.
 */
export function readEnv(env: NodeJS.ProcessEnv): RawSettings {
  const settings: RawSettings = new Map();
  for (const setting of SETTINGS) {
    const text = env[setting.env];
    if (text === undefined || text.trim() === "") continue;
    const value =
      setting.kind === "list" || setting.kind === "enumList" ? text.trim().split(/\s+/) : text.trim();
    settings.set(setting.key, { value, where: setting.env });
  }
  return settings;
}
