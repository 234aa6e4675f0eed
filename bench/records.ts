/** The records every client sends in the benchmark. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The uWSGI sample document: in `BENCH_SAMPLES`, or in `../shared/uwsgi-samples` beside the repository. */
export const BIG_RECORD_PATH = process.env.BENCH_SAMPLES
  ? `${process.env.BENCH_SAMPLES}/big-t1.json`
  : fileURLToPath(new URL("../../shared/uwsgi-samples/big-t1.json", import.meta.url));

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
