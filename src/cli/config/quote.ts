/** Most characters of a value that a one-line message shows; the rest is cut and counted. */
export const QUOTED_VALUE_CHARS = 100;
/** Most items of a list that a one-line message shows. */
const QUOTED_LIST_ITEMS = 5;

/**
 * A text as a message shows it unquoted (a key, a path, a parser's message): cut as `quote` cuts, its control
 * characters escaped (`\u000a`), so that the message stays one line.
 */
export function cut(text: string): string {
  const shown = text.length > QUOTED_VALUE_CHARS ? text.slice(0, QUOTED_VALUE_CHARS) : text;
  const escaped = shown.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > QUOTED_VALUE_CHARS ? `${escaped}… (${text.length} characters)` : escaped;
}

/**
 * A value given by the user as a one-line message shows it: JSON-quoted, a text cut after QUOTED_VALUE_CHARS
 * characters and a list after QUOTED_LIST_ITEMS items, with the full length said (`"aaaa…" (100000
 * characters)`), so that a huge bad value (a pasted file, a hostile environment) never makes a message of its
 * own size.
 */
export function quote(value: unknown): string {
  if (typeof value === "string") {
    return value.length > QUOTED_VALUE_CHARS
      ? `${JSON.stringify(value.slice(0, QUOTED_VALUE_CHARS))}… (${value.length} characters)`
      : JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    const shown = value.slice(0, QUOTED_LIST_ITEMS).map(quote).join(",");
    return value.length > QUOTED_LIST_ITEMS ? `[${shown},… (${value.length} items)]` : `[${shown}]`;
  }
  return JSON.stringify(value) ?? String(value);
}
