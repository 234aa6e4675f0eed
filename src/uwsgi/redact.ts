/** What to do with `cores[].vars` (the CGI variables of in-flight requests, headers included). */
export type VarsMode = "redact" | "keep" | "drop";

/** The value that replaces a denied variable's value, and a redacted query string. */
export const REDACTED = "[REDACTED]";

/** Variable names (after removing `HTTP_`, upper-cased) whose values never leave the host in "redact" mode. */
export const DENIED_NAMES: readonly string[] = [
  "AUTHORIZATION",
  "PROXY_AUTHORIZATION",
  "COOKIE",
  "SET_COOKIE",
];
/** A variable whose upper-cased name contains one of these is redacted too. */
export const DENIED_PARTS: readonly string[] = [
  "TOKEN",
  "SECRET",
  "PASSWORD",
  "PASSWD",
  "KEY",
  "CREDENTIAL",
  "SESSION",
];
/** Variables holding a query string: the whole value is redacted. */
export const QUERY_NAMES: readonly string[] = ["QUERY_STRING"];
/** Variables holding a URL or URI: the part after `?` is redacted. */
export const URI_NAMES: readonly string[] = [
  "REQUEST_URI",
  "HTTP_REFERER",
  "UWSGI_ROUTER_URI",
  "HTTP_ORIGIN",
];

/** Redacts one `NAME=value` CGI variable as uWSGI lists it; entries without `=` are kept as they are. */
export function redactVar(entry: string): string {
  const eq = entry.indexOf("=");
  if (eq <= 0) return entry;
  const name = entry.slice(0, eq).toUpperCase();
  const value = entry.slice(eq + 1);
  const bare = name.startsWith("HTTP_") ? name.slice(5) : name;
  if (DENIED_NAMES.includes(bare) || DENIED_PARTS.some((part) => name.includes(part))) {
    return `${entry.slice(0, eq)}=${REDACTED}`;
  }
  if (QUERY_NAMES.includes(name)) return value.length === 0 ? entry : `${entry.slice(0, eq)}=${REDACTED}`;
  if (URI_NAMES.includes(name)) {
    const q = value.indexOf("?");
    if (q !== -1) return `${entry.slice(0, eq)}=${value.slice(0, q + 1)}${REDACTED}`;
  }
  return entry;
}

/**
 * Applies the vars policy to a parsed document in place: "redact" rewrites denied values in every
 * `workers[].cores[].vars`, "drop" removes the `vars` arrays, "keep" leaves them.
 */
export function applyVarsPolicy(doc: Record<string, unknown>, mode: VarsMode): void {
  if (mode === "keep") return;
  const workers = doc.workers;
  if (!Array.isArray(workers)) return;
  for (const worker of workers) {
    const cores = (worker as { cores?: unknown } | null)?.cores;
    if (!Array.isArray(cores)) continue;
    for (const core of cores) {
      if (typeof core !== "object" || core === null) continue;
      const c = core as Record<string, unknown>;
      if (!("vars" in c)) continue;
      if (mode === "drop") {
        delete c.vars;
        continue;
      }
      const vars = c.vars;
      if (!Array.isArray(vars)) {
        delete c.vars;
        continue;
      }
      for (let i = 0; i < vars.length; i++) {
        const v = vars[i];
        vars[i] = typeof v === "string" ? redactVar(v) : REDACTED;
      }
    }
  }
}
