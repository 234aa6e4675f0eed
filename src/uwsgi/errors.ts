import { UwsgiForwardError } from "../errors.js";

/**
 * Stable codes of every per-target failure of a `UwsgiStatsSource`. They appear as `err.code` on
 * `targetError` events and as `code` in `uwsgi.error` records; docs/records.md describes each.
 */
export const UwsgiStatsErrorCode = {
  /** The unix socket path does not exist. */
  NOT_FOUND: "UWSGI_STATS_NOT_FOUND",
  /** Nothing listens there (the socket file outlived its uWSGI, or the port is closed). */
  REFUSED: "UWSGI_STATS_REFUSED",
  /** Connecting failed for another reason (permission, not a socket, unreachable host, DNS). */
  CONNECT_FAILED: "UWSGI_STATS_CONNECT_FAILED",
  /** The connection was not established within `connectTimeoutMs`. */
  CONNECT_TIMEOUT: "UWSGI_STATS_CONNECT_TIMEOUT",
  /** The whole answer did not arrive within `timeoutMs`; the socket was destroyed. */
  TIMEOUT: "UWSGI_STATS_TIMEOUT",
  /** The connection broke while reading (reset). */
  READ_FAILED: "UWSGI_STATS_READ_FAILED",
  /** The server closed the connection without sending a document (0 bytes, or no complete HTTP head). */
  CLOSED_EARLY: "UWSGI_STATS_CLOSED_EARLY",
  /** The server sent the beginning of a document, then closed. */
  TRUNCATED: "UWSGI_STATS_TRUNCATED",
  /** What arrived is not JSON, even after the repair pass. */
  INVALID_JSON: "UWSGI_STATS_INVALID_JSON",
  /** Valid JSON, but not a uWSGI stats or Emperor document (not an object). */
  UNEXPECTED_DOCUMENT: "UWSGI_STATS_UNEXPECTED_DOCUMENT",
  /** The document is nested deeper than 64 levels (uWSGI's own are at most 7); no record is made of it. */
  TOO_DEEP: "UWSGI_STATS_TOO_DEEP",
  /** The document holds more than `maxElements` values; no record is made of it. */
  TOO_MANY_ELEMENTS: "UWSGI_STATS_TOO_MANY_ELEMENTS",
  /** The answer exceeded `maxBytes`; reading stopped and the socket was destroyed. */
  TOO_LARGE: "UWSGI_STATS_TOO_LARGE",
  /** A `stats-http` target answered with a status other than 200. */
  HTTP_STATUS: "UWSGI_STATS_HTTP_STATUS",
  /** A `stats-http` target answered something that is not an HTTP response. */
  HTTP_INVALID: "UWSGI_STATS_HTTP_INVALID",
  /** A glob pattern could not be expanded (e.g. permission denied on its directory). */
  GLOB_FAILED: "UWSGI_STATS_GLOB_FAILED",
  /** Every target is a glob and none matched a socket: nothing is polled. Reported once per change. */
  NO_TARGETS: "UWSGI_STATS_NO_TARGETS",
  /** `start()` was called after `stop()` (thrown; a stopped source has ended its stream). */
  STOPPED: "UWSGI_STATS_STOPPED",
  /** A read was cut short because the source stopped (never in a record or an event). */
  ABORTED: "UWSGI_STATS_ABORTED",
  /** A bug: shaping a document threw. The document's target keeps being polled. */
  INTERNAL: "UWSGI_STATS_INTERNAL",
} as const;

/** One of the `UWSGI_STATS_*` codes. */
export type UwsgiStatsErrorCode = (typeof UwsgiStatsErrorCode)[keyof typeof UwsgiStatsErrorCode];

/** A recoverable failure to read or understand one target's stats. Never thrown into the host app. */
export class UwsgiStatsError extends UwsgiForwardError {
  declare readonly code: UwsgiStatsErrorCode;
  /** The target as it appears in records (`/run/app.sock`, `127.0.0.1:9191`, `http://...`). */
  readonly target: string;
  /** The first bytes that arrived (up to 200, lossy UTF-8), or "" when nothing did. */
  readonly excerpt: string;
  /** How many bytes arrived before the failure. */
  readonly bytes: number;

  constructor(
    code: UwsgiStatsErrorCode,
    target: string,
    message: string,
    options: { cause?: unknown; received?: Buffer; bytes?: number } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.target = target;
    this.excerpt = options.received ? excerptOf(options.received) : "";
    this.bytes = options.bytes ?? options.received?.length ?? 0;
  }
}

const EXCERPT_BYTES = 200;

/** The first bytes of `data` as printable text: control bytes other than tab/newline become `\xNN`. */
export function excerptOf(data: Buffer): string {
  const text = data.subarray(0, EXCERPT_BYTES).toString("utf8");
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => {
    return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
  });
  return data.length > EXCERPT_BYTES ? clean + "…" : clean;
}
