/** Where a stats server listens: a unix socket, a TCP port, or a `stats-http` URL. */
export type StatsAddress =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "http"; readonly host: string; readonly port: number; readonly path: string };

/** A target as configured: one address, or a glob of unix socket paths expanded on every poll. */
export type TargetSpec =
  | { readonly kind: "address"; readonly target: string; readonly address: StatsAddress }
  | { readonly kind: "glob"; readonly pattern: string; readonly prefix: string };

/** The forms a target may take, for error messages. */
export const TARGET_FORMS =
  "write a unix socket path (/run/uwsgi/app.stats.sock or unix:///run/uwsgi/app.stats.sock), " +
  "a glob of them (/run/uwsgi/*.stats.sock), host:port or tcp://host:port, or http://host:port[/path] for stats-http";

/** True when a path contains glob characters (`*`, `?`, `[`). */
export function isGlob(path: string): boolean {
  return /[*?[]/.test(path);
}

/**
 * Parses one configured target. Returns a description of what is wrong (to put in an option error)
 * instead of throwing.
 */
export function parseTarget(input: string): TargetSpec | { error: string } {
  const text = input.trim();
  if (text.length === 0) return { error: `empty target; ${TARGET_FORMS}` };
  if (text.startsWith("unix://")) return unixTarget(text, text.slice("unix://".length), "unix://");
  if (text.startsWith("/") || text.startsWith("./") || text.startsWith("../"))
    return unixTarget(text, text, "");
  if (text.startsWith("tcp://")) {
    const hp = parseHostPort(text.slice("tcp://".length));
    if ("error" in hp) return { error: `${hp.error}; ${TARGET_FORMS}` };
    return { kind: "address", target: text, address: { kind: "tcp", host: hp.host, port: hp.port } };
  }
  if (text.startsWith("http://")) {
    const rest = text.slice("http://".length);
    const slash = rest.indexOf("/");
    const hostPart = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? "/" : rest.slice(slash);
    const hp = parseHostPort(hostPart);
    if ("error" in hp) return { error: `${hp.error}; ${TARGET_FORMS}` };
    if (/[\s]/.test(path)) return { error: `the URL path must not contain spaces; ${TARGET_FORMS}` };
    return { kind: "address", target: text, address: { kind: "http", host: hp.host, port: hp.port, path } };
  }
  if (text.startsWith("https://")) {
    return { error: "uWSGI's stats-http speaks plain HTTP only; write http://host:port instead of https://" };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { error: `unsupported scheme in ${JSON.stringify(text)}; ${TARGET_FORMS}` };
  }
  const hp = parseHostPort(text);
  if ("error" in hp) {
    return {
      error: `${JSON.stringify(text)} is neither a path nor host:port (${hp.error}); ${TARGET_FORMS}`,
    };
  }
  return { kind: "address", target: text, address: { kind: "tcp", host: hp.host, port: hp.port } };
}

function unixTarget(target: string, path: string, prefix: string): TargetSpec | { error: string } {
  if (path.length === 0) return { error: `a unix target needs a path; ${TARGET_FORMS}` };
  if (path.includes("\0")) return { error: "a socket path cannot contain a NUL byte" };
  if (isGlob(path)) return { kind: "glob", pattern: path, prefix };
  return { kind: "address", target, address: { kind: "unix", path } };
}

function parseHostPort(text: string): { host: string; port: number } | { error: string } {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1 || text[end + 1] !== ":") return { error: "an IPv6 address is written [::1]:9191" };
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon === -1) return { error: "missing :port" };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return { error: "an IPv6 address is written [::1]:9191" };
  }
  if (host.length === 0) host = "127.0.0.1";
  if (!/^\d{1,5}$/.test(portText)) return { error: `port ${JSON.stringify(portText)} is not a number` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${port} is not within 1..65535` };
  if (!/^[A-Za-z0-9.:_%-]+$/.test(host)) return { error: `host ${JSON.stringify(host)} is not a hostname` };
  return { host, port };
}
