/** A short name for a Forward server in logs and health records: `host:port` or the unix socket path. */
export function serverLabel(server: unknown): string {
  if (typeof server === "string") return server;
  if (server && typeof server === "object") {
    const s = server as { host?: unknown; port?: unknown; path?: unknown; id?: unknown; srv?: unknown };
    if (typeof s.id === "string") return s.id;
    if (typeof s.srv === "string") return `srv ${s.srv}`;
    if (typeof s.path === "string") return s.path;
    if (typeof s.host === "string")
      return `${s.host.includes(":") ? `[${s.host}]` : s.host}:${String(s.port ?? 24224)}`;
  }
  return String(server);
}

/** The `code` of an error (ours carry a stable one), or its name. */
export function errorCode(err: unknown): string {
  if (err && typeof err === "object" && typeof (err as { code?: unknown }).code === "string") {
    return (err as { code: string }).code;
  }
  return err instanceof Error ? err.name : "UNKNOWN";
}

/** The message of an error, on one line. */
export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, " ");
}
