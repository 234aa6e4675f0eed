import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./free-port.js";
import { assertUwsgiInstalled } from "./uwsgi-installed.js";

/**
 * The WSGI app every test uWSGI runs: `/` answers, `/slow?s=N` sleeps N seconds, `/boom` raises; with the
 * ENTITY_CONFIG lines, `/cache?k=KEY` reads KEY from cache `pages` (setting it on a miss), `/metric` adds 1 to
 * the custom metric `app.orders`, `/spool` queues a spooler task (the same module is the spooler's).
 */
export const APP_PY = `import time
try:
    import uwsgi
except ImportError:
    uwsgi = None

def spool_task(env):
    return -2

if uwsgi is not None:
    uwsgi.spooler = spool_task

def application(env, start_response):
    p = env.get('PATH_INFO', '/')
    qs = env.get('QUERY_STRING', '')
    if p == '/slow':
        s = 1.0
        for part in qs.split('&'):
            if part.startswith('s='):
                s = float(part[2:])
        time.sleep(s)
    elif p == '/boom':
        raise RuntimeError('boom')
    elif p == '/cache':
        key = qs[2:] if qs.startswith('k=') else 'k'
        if uwsgi.cache_get(key, 'pages') is None:
            uwsgi.cache_set(key, b'v', 0, 'pages')
    elif p == '/metric':
        uwsgi.metric_inc('app.orders')
    elif p == '/spool':
        uwsgi.spool({b'task': b'1'})
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']
`;

/**
 * Extra ini lines for a uWSGI that reports every entity: two threads per worker, a second mountpoint (`/api`,
 * the same app), a cache (`pages`), a spooler (in `dir/spool`) running APP_PY's task, and the metrics
 * subsystem with the custom counter `app.orders`.
 */
export function entityConfig(dir: string): string[] {
  const spool = path.join(dir, "spool");
  mkdirSync(spool, { recursive: true });
  return [
    "threads = 2",
    "enable-threads = true",
    `mount = /api=${path.join(dir, "app.py")}`,
    "manage-script-name = true",
    // Without it the second mountpoint is a Python sub-interpreter, and a reload waits for worker-reload-mercy.
    "single-interpreter = true",
    "cache2 = name=pages,items=100",
    `spooler = ${spool}`,
    `spooler-import = ${path.join(dir, "app.py")}`,
    "spooler-frequency = 1",
    "enable-metrics = true",
    "metric = name=app.orders,type=counter",
  ];
}

/** A uWSGI started for a test. */
export interface UwsgiInstance {
  readonly dir: string;
  readonly child: ChildProcess;
  /** The unix socket of the app's http-socket (unix, so no port can be taken by another process meanwhile). */
  readonly http: string;
  /** The stats target string to give the source. */
  readonly stats: string;
  /** Everything uWSGI logged so far. */
  log(): string;
  /** Kills the whole process group (master and workers) and waits for the master to exit. */
  kill(): Promise<void>;
}

/**
 * Starts `uwsgi --ini` with a master, `processes` workers, an http-socket for load and a stats server
 * (`stats: "unix"` on `<dir>/stats.sock`, `"tcp"` on a free port, `"http"` for stats-http on a free port).
 * Resolves once the stats server answers. `extra` lines are appended to the ini.
 */
export async function startUwsgi(
  options: {
    dir?: string;
    stats?: "unix" | "tcp" | "http";
    statsPath?: string;
    processes?: number;
    extra?: string[];
  } = {},
): Promise<UwsgiInstance> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), "uwsgi-forward-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), APP_PY);
  const http = path.join(dir, "http.sock");
  const kind = options.stats ?? "unix";
  let statsLine: string;
  let stats: string;
  if (kind === "unix") {
    const p = options.statsPath ?? path.join(dir, "stats.sock");
    statsLine = `stats = ${p}`;
    stats = p;
  } else {
    const port = await freePort();
    statsLine = `stats = 127.0.0.1:${port}`;
    stats = kind === "http" ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`;
  }
  const ini = [
    "[uwsgi]",
    "plugins = python3",
    "master = true",
    `processes = ${options.processes ?? 1}`,
    `http-socket = ${http}`,
    statsLine,
    ...(kind === "http" ? ["stats-http = true"] : []),
    `chdir = ${dir}`,
    `wsgi-file = ${path.join(dir, "app.py")}`,
    "need-app = true",
    ...(options.extra ?? []),
  ].join("\n");
  const iniPath = path.join(dir, "uwsgi.ini");
  writeFileSync(iniPath, ini + "\n");
  const { child, log, kill } = spawnUwsgi(iniPath, dir);
  const instance: UwsgiInstance = {
    dir,
    child,
    http,
    stats,
    log,
    kill,
  };
  const address =
    kind === "unix"
      ? { path: stats }
      : { host: "127.0.0.1", port: Number(statsLine.slice(statsLine.lastIndexOf(":") + 1)) };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`uwsgi exited early:\n${log()}`);
    if (await answers(address, kind === "http")) break;
    if (Date.now() > deadline) {
      await instance.kill();
      throw new Error(`uwsgi stats never answered:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return instance;
}

function answers(
  address: { path: string } | { host: string; port: number },
  http: boolean,
  expect?: string,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address as { path: string });
    let data = "";
    socket.on("data", (d: Buffer) => (data += d.toString()));
    socket.on("error", () => resolve(false));
    socket.on("close", () => {
      if (expect !== undefined) resolve(data.includes(expect));
      else resolve(data.includes('"workers"') && !/"pid":0\b/.test(data.split('"workers"')[1] ?? ""));
    });
    if (http) socket.write("GET / HTTP/1.0\r\n\r\n");
    socket.setTimeout(2000, () => socket.destroy());
  });
}

/** Sends `count` GET requests to the uWSGI http-socket (a unix socket path), `parallel` at a time; resolves when all answered. */
export async function load(
  socketPath: string,
  count: number,
  options: { path?: string; parallel?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: options.parallel ?? 4 }, async () => {
    while (next < count) {
      next++;
      await get(socketPath, options.path ?? "/", options.headers ?? {});
    }
  });
  await Promise.all(lanes);
}

/** One GET; resolves with the status code (or 0 on a socket error) once the answer ended. */
export function get(
  socketPath: string,
  urlPath: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: urlPath, headers: { host: "localhost", ...headers }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", () => resolve(0));
      },
    );
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** An Emperor started for a test: vassal inis go in `vassalsDir`, their stats sockets in `statsDir`. */
export interface UwsgiEmperor {
  readonly dir: string;
  readonly vassalsDir: string;
  readonly statsDir: string;
  /** The Emperor's own `emperor-stats` socket. */
  readonly emperorStats: string;
  readonly child: ChildProcess;
  /** Writes a vassal ini (`name.ini`) with its stats socket at `statsDir/name.stats.sock`. */
  addVassal(name: string, options?: { vacuum?: boolean }): Promise<string>;
  log(): string;
  kill(): Promise<void>;
}

/** Starts `uwsgi --ini emperor.ini` with an empty vassals directory and `emperor-stats`. */
export async function startEmperor(): Promise<UwsgiEmperor> {
  const dir = mkdtempSync(path.join(tmpdir(), "uwsgi-emperor-"));
  const vassalsDir = path.join(dir, "vassals");
  const statsDir = path.join(dir, "stats");
  mkdirSync(vassalsDir);
  mkdirSync(statsDir);
  writeFileSync(path.join(dir, "app.py"), APP_PY);
  const emperorStats = path.join(statsDir, "emperor.stats.socket");
  const iniPath = path.join(dir, "emperor.ini");
  writeFileSync(
    iniPath,
    [
      "[uwsgi]",
      `emperor = ${vassalsDir}`,
      `emperor-stats = ${emperorStats}`,
      "emperor-freq = 1",
      // A vassal that ignores the Emperor's stop is killed after 2 s instead of uWSGI's 30 s.
      "emperor-curse-tolerance = 2",
      "",
    ].join("\n"),
  );
  const { child, log, kill } = spawnUwsgi(iniPath, dir);
  const emperor: UwsgiEmperor = {
    dir,
    vassalsDir,
    statsDir,
    emperorStats,
    child,
    log,
    addVassal: async (name, options = {}) => {
      const stats = path.join(statsDir, `${name}.stats.sock`);
      const ini = [
        "[uwsgi]",
        "plugins = python3",
        "master = true",
        "processes = 1",
        `http-socket = ${path.join(statsDir, `${name}.http.sock`)}`,
        `stats = ${stats}`,
        `wsgi-file = ${path.join(dir, "app.py")}`,
        ...(options.vacuum ? ["vacuum = true"] : []),
        "",
      ].join("\n");
      writeFileSync(path.join(vassalsDir, `${name}.ini`), ini);
      return stats;
    },
    kill,
  };
  const deadline = Date.now() + 15_000;
  while (!(await answers({ path: emperorStats }, false, '"vassals"'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await emperor.kill();
      throw new Error(`the Emperor's stats never answered:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return emperor;
}

/** Starts `uwsgi --ini iniPath` in its own process group, collecting its output; `kill` SIGKILLs the whole group. */
function spawnUwsgi(
  iniPath: string,
  dir: string,
): { child: ChildProcess; log: () => string; kill: () => Promise<void> } {
  assertUwsgiInstalled();
  const child = spawn("uwsgi", ["--ini", iniPath], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  };
  return { child, log: () => output, kill };
}
