import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { assertUwsgiInstalled } from "./uwsgi-installed.js";

/** A real uWSGI (master + 2 workers, python3 app) serving HTTP and stats on unix sockets in a temp dir. */
export interface CliUwsgi {
  readonly dir: string;
  /** The stats socket path. */
  readonly stats: string;
  /** The HTTP socket path (http-socket, no router). */
  readonly http: string;
  /** Sends `count` GET requests, one after another. */
  load(count: number): Promise<void>;
  /** The uWSGI log, for assertion messages. */
  log(): string;
  /** Stops uWSGI and removes the temp dir (idempotent; registered with t.after). */
  stop(): Promise<void>;
}

const APP = `def application(env, start_response):
    if env.get('PATH_INFO') == '/boom':
        raise RuntimeError('boom')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']
`;

/**
 * Starts uWSGI in its temp dir (its working directory) with the stats socket there, or at `options.stats`
 * (a relative path is relative to that dir: two instances can serve the same target string), and waits until
 * the socket answers. `options.extra` lines are added to the ini.
 */
export async function startCliUwsgi(
  t: { after: (fn: () => Promise<void>) => void },
  options: { stats?: string; extra?: readonly string[] } = {},
): Promise<CliUwsgi> {
  assertUwsgiInstalled();
  const dir = mkdtempSync(join(tmpdir(), "uwsgi-forward-cli-uwsgi-"));
  const statsOption = options.stats ?? join(dir, "stats.sock");
  const stats = isAbsolute(statsOption) ? statsOption : join(dir, statsOption);
  const http = join(dir, "http.sock");
  writeFileSync(join(dir, "app.py"), APP);
  writeFileSync(
    join(dir, "uwsgi.ini"),
    [
      "[uwsgi]",
      "plugins = python3",
      "master = true",
      "processes = 2",
      `http-socket = ${http}`,
      `stats = ${statsOption}`,
      `pidfile = ${join(dir, "uwsgi.pid")}`,
      `wsgi-file = ${join(dir, "app.py")}`,
      "need-app = true",
      "die-on-term = true",
      `logto = ${join(dir, "uwsgi.log")}`,
      ...(options.extra ?? []),
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("uwsgi", ["--ini", join(dir, "uwsgi.ini")], {
    cwd: dir,
    stdio: "ignore",
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  const uwsgi: CliUwsgi = {
    dir,
    stats,
    http,
    async load(count) {
      for (let i = 0; i < count; i++) await get(http, i % 10 === 9 ? "/boom" : "/");
    },
    log: () => (existsSync(join(dir, "uwsgi.log")) ? readFileSync(join(dir, "uwsgi.log"), "utf8") : ""),
    async stop() {
      if (!exited) {
        const gone = once(child, "exit");
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.after(() => uwsgi.stop());
  for (let i = 0; i < 200; i++) {
    if (exited) throw new Error(`uwsgi exited: ${uwsgi.log()}`);
    if (existsSync(stats) && existsSync(http) && (await answers(stats))) return uwsgi;
    await delay(50);
  }
  throw new Error(`uwsgi did not start: ${uwsgi.log()}`);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let bytes = 0;
    socket.on("data", (chunk) => (bytes += chunk.length));
    socket.on("end", () => resolve(bytes > 0));
    socket.on("error", () => resolve(false));
  });
}

function get(socketPath: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    // /boom raises in the app: uWSGI may close the connection without an answer.
    req.on("error", (err) => (path === "/boom" ? resolve() : reject(err)));
    req.end();
  });
}
