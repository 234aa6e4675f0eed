/** Most characters of a value that a one-line message shows; the rest is cut and counted. */
export const QUOTED_VALUE_CHARS = 100;
/** Most items of a list that a one-line message shows. */
const QUOTED_LIST_ITEMS = 5;

/** A text as a message shows it unquoted (a key, a path, a parser's message): cut as `quote` cuts. */
export function cut(text: string): string {
  return text.length > QUOTED_VALUE_CHARS
    ? `${text.slice(0, QUOTED_VALUE_CHARS)}… (${text.length} characters)`
    : text;
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
