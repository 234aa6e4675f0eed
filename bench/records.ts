/** The records every client sends in the benchmark. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { UWSGI_SAMPLES } from "../test/helpers/uwsgi-samples.js";

/** The uWSGI stats document of the big server, from the repository's fixtures. */
export const BIG_RECORD_PATH = path.join(UWSGI_SAMPLES, "big-t1.json");

/** A typical application log line, about 100 bytes as JSON. */
export function smallRecord(): Record<string, unknown> {
  return {
    level: "info",
    msg: "GET /api/v1/users/42 200",
    host: "web-1",
    pid: 4242,
    ms: 12.5,
    req: "9f1c2e7a",
  };
}

/**
 * An application error log line: a long message, a stack trace, a name that is not ASCII (382 bytes as JSON). Strings
 * of 32 characters and more, which `smallRecord` has none of, are most of its bytes.
 */
export function logRecord(): Record<string, unknown> {
  return {
    level: "error",
    msg: "GET /api/v1/users/42/orders?page=3&sort=desc 500 in 12.5 ms (upstream timed out)",
    host: "web-1",
    pid: 4242,
    city: "Zürich",
    stack:
      "Error: upstream timed out\n    at handler (/srv/app/routes/users.js:42:13)\n" +
      "    at Layer.handle (/srv/app/node_modules/express/lib/router/layer.js:95:5)\n" +
      "    at next (/srv/app/node_modules/express/lib/router/route.js:149:3)",
  };
}

/** The uWSGI stats document of a server with 8 workers × 4 threads (big-t1.json). */
export function bigRecord(): Record<string, unknown> {
  return JSON.parse(readFileSync(BIG_RECORD_PATH, "utf8")) as Record<string, unknown>;
}

/** The two benchmark records by name. */
export const RECORDS = {
  small: { tag: "app.log", make: smallRecord },
  uwsgi: { tag: "uwsgi.stats", make: bigRecord },
} as const;

export type RecordName = keyof typeof RECORDS;
