/** A small valid uWSGI stats document: one idle worker. */
export const GOOD_DOC = JSON.stringify({
  version: "2.0.21-debian",
  listen_queue: 0,
  pid: 100,
  workers: [{ id: 1, pid: 101, accepting: 1, requests: 5, status: "idle", avg_rt: 10, tx: 50 }],
  sockets: [{ name: "/tmp/http.sock", queue: 0, max_queue: 100 }],
});

/** A valid stats document (about 1.4 KB for 600) holding an array nested `levels` deep. */
export function deepDocument(levels: number): string {
  return `{"version":"2.0.21-debian","pid":100,"workers":[],"x":${"[".repeat(levels)}${"]".repeat(levels)}}`;
}

/** A valid stats document with `count` workers of uWSGI's usual fields (30,000 give about 7.8 MB). */
export function manyWorkersDocument(count: number): string {
  const workers: string[] = [];
  for (let i = 1; i <= count; i++) {
    workers.push(
      JSON.stringify({
        id: i,
        pid: 10_000 + i,
        accepting: 1,
        requests: 1234,
        delta_requests: 12,
        exceptions: 0,
        harakiri_count: 0,
        signals: 0,
        signal_queue: 0,
        status: "idle",
        rss: 52_428_800,
        running_time: 123_456_789,
        last_spawn: 1_795_533_776,
        respawn_count: 1,
        tx: 987_654,
        avg_rt: 1500,
      }),
    );
  }
  return `{"version":"2.0.21-debian","pid":100,"workers":[${workers.join(",")}]}`;
}

/** The three hostile documents of issue 14, each with the error code it must give. */
export const HOSTILE: readonly { name: string; body: () => string; code: string }[] = [
  { name: "an array nested 600 deep", body: () => deepDocument(600), code: "UWSGI_STATS_TOO_DEEP" },
  { name: "an array nested 100,000 deep", body: () => deepDocument(100_000), code: "UWSGI_STATS_TOO_DEEP" },
  {
    name: "30,000 workers",
    body: () => manyWorkersDocument(30_000),
    code: "UWSGI_STATS_TOO_MANY_ELEMENTS",
  },
];
