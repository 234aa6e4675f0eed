/** What a duration setting accepts, for error messages and help. */
export const DURATION_SYNTAX = "a duration such as 500ms, 1s, 1.5s, 1m or 1h";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `500ms`, `1s`, `1.5s`, `1m`, `1h` (or a bare `0`) into whole milliseconds.
 * Returns undefined when the text is not a duration, so callers can name the setting in their error.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(trimmed);
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) return undefined;
  return Math.round(ms);
}

/** Formats milliseconds the way parseDuration reads them back (`1500` → `1.5s`, `60000` → `1m`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
