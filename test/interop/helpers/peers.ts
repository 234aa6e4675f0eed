import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../helpers/free-port.js";

/**
 * The real-peer suites (Fluentd, Fluent Bit, Norikra) find `../shared/peers` through this variable; `.ci/run`
 * sets it. Without it they skip, saying how to enable them.
 */
export const PEERS_ENV = "UWSGI_FORWARD_PEERS";

/** The peers folder named by UWSGI_FORWARD_PEERS, or undefined when the real-peer suites are not enabled. */
export function peersDir(): string | undefined {
  const dir = process.env[PEERS_ENV];
  if (!dir) return undefined;
  if (!existsSync(path.join(dir, "fluentd.sh"))) {
    throw new Error(
      `${PEERS_ENV}=${dir} does not hold fluentd.sh: point it at the peers folder (../shared/peers)`,
    );
  }
  return dir;
}

/** The `skip` option of a real-peer suite: false when enabled, otherwise the reason and how to enable it. */
export function skipWithoutPeers(): false | string {
  return peersDir() === undefined
    ? `real peers not enabled: set ${PEERS_ENV}=/path/to/shared/peers (after its setup.sh) to run this suite`
    : false;
}

/** A running peer started by one of the peers' start scripts. */
export interface Peer {
  readonly name: "fluentd" | "fluent-bit" | "norikra";
  readonly pid: number;
  /** TCP port (Forward for Fluentd and Fluent Bit, RPC for Norikra). */
  readonly port: number;
  /** Events file: one JSON line per received event. */
  readonly out: string;
  readonly log: string;
  readonly workdir: string;
  /** The start script's `key=value` lines. */
  readonly info: Readonly<Record<string, string>>;
  /** Sends `signal` and waits until the process is gone (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP/SIGCONT for freezes). */
  signal(signal: NodeJS.Signals): void;
  /** The peer's log so far. */
  readLog(): string;
}

/** Options both Forward peers take: each maps to the start script's flag of the same name (see the peers' README). */
export interface ForwardPeerOptions {
  port: number;
  /** Listen address (default 127.0.0.1; any 127.x.y.z, so several peers can share a port). */
  bind?: string;
  workdir?: string;
  out?: string;
  sharedKey?: string;
  selfHostname?: string;
  users?: { username: string; password: string }[];
  tlsCert?: string;
  tlsKey?: string;
  unix?: string;
  config?: string;
  logLevel?: string;
  timeoutS?: number;
}

/** Options of `startFluentd`: each maps to a `fluentd.sh` flag. */
export interface FluentdOptions extends ForwardPeerOptions {
  /** Mutual TLS: PEM file of the CA a client certificate must chain to (`client_cert_auth true`); needs tlsCert/tlsKey. */
  clientCa?: string;
  /** Buffer the events file's output on disk (`WORKDIR/buffer`) instead of in memory, so what was acked survives a kill -9. */
  fileBuffer?: boolean;
  norikra?: string;
  norikraPrefix?: string;
}

/** Options of `startFluentBit`: each maps to a `fluent-bit.sh` flag. */
export interface FluentBitOptions extends ForwardPeerOptions {
  /** Mutual TLS: PEM file of the CA a client certificate must chain to (`tls.verify on`); needs tlsCert/tlsKey. */
  clientCa?: string;
  /**
   * Print in_forward's records straight to the events file, without the stream task that adds `_tag`/`_time`:
   * records carry only `_date`. The fault tests use it because the stream task's copies made while Fluent Bit shuts
   * down are never printed (SIGTERM would seem to lose events in_forward took and flushed).
   */
  plainOutput?: boolean;
  ready?: string;
}

/** Options of `startNorikra`. */
export interface NorikraOptions {
  rpcPort: number;
  uiPort: number;
  workdir?: string;
  timeoutS?: number;
}

function authFlags(o: ForwardPeerOptions): string[] {
  const flags: string[] = [];
  if (o.bind !== undefined) flags.push("--bind", o.bind);
  if (o.sharedKey !== undefined) flags.push("--shared-key", o.sharedKey);
  if (o.selfHostname !== undefined) flags.push("--self-hostname", o.selfHostname);
  for (const u of o.users ?? []) flags.push("--user", u.username, "--password", u.password);
  if (o.tlsCert !== undefined) flags.push("--tls-cert", o.tlsCert);
  if (o.tlsKey !== undefined) flags.push("--tls-key", o.tlsKey);
  if (o.unix !== undefined) flags.push("--unix", o.unix);
  return flags;
}

function common(o: {
  workdir?: string;
  out?: string;
  config?: string;
  logLevel?: string;
  timeoutS?: number;
}) {
  const flags: string[] = [];
  if (o.workdir !== undefined) flags.push("--workdir", o.workdir);
  if (o.out !== undefined) flags.push("--out", o.out);
  if (o.config !== undefined) flags.push("--config", o.config);
  if (o.logLevel !== undefined) flags.push("--log-level", o.logLevel);
  if (o.timeoutS !== undefined) flags.push("--timeout", String(o.timeoutS));
  return flags;
}

/**
 * The config `fluentd.sh` generates (in_forward with its security and TLS, the JSON events file with `_tag` and
 * `_time`), plus what its flags cannot say: mutual TLS and a file buffer. Placeholders are left for the script.
 */
function fluentdConfig(o: FluentdOptions): string {
  const lines = ["<system>", `  log_level ${o.logLevel ?? "info"}`, "</system>"];
  lines.push("<label @FLUENT_LOG>", "  <match **>", "    @type null", "  </match>", "</label>");
  lines.push("<source>", "  @type forward", "  port @PORT@", "  bind @BIND@");
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
    lines.push("  <transport tls>", `    cert_path ${o.tlsCert}`, `    private_key_path ${o.tlsKey}`);
    if (o.clientCa !== undefined) lines.push("    client_cert_auth true", `    ca_path ${o.clientCa}`);
    lines.push("  </transport>");
  }
  if (o.sharedKey !== undefined) {
    lines.push(
      "  <security>",
      `    self_hostname ${o.selfHostname ?? "fluentd.peer"}`,
      `    shared_key ${o.sharedKey}`,
    );
    if (o.users?.length) {
      lines.push("    user_auth true");
      for (const u of o.users) {
        lines.push(
          "    <user>",
          `      username ${u.username}`,
          `      password ${u.password}`,
          "    </user>",
        );
      }
    }
    lines.push("  </security>");
  }
  lines.push("</source>");
  if (o.unix !== undefined) lines.push("<source>", "  @type unix", `  path ${o.unix}`, "</source>");
  lines.push("<match **>", "  @type file", "  path @OUT@", "  append true", "  add_path_suffix false");
  lines.push("  <format>", "    @type json", "  </format>");
  lines.push("  <inject>", "    tag_key _tag", "    time_key _time", "    time_type string");
  lines.push("    time_format %Y-%m-%dT%H:%M:%S.%NZ", "    utc true", "  </inject>");
  lines.push("  <buffer []>");
  lines.push(o.fileBuffer ? "    @type file" : "    @type memory");
  if (o.fileBuffer) lines.push("    path @WORKDIR@/buffer");
  lines.push("    flush_mode interval", "    flush_interval 0.1s", "    flush_thread_interval 0.05");
  lines.push("    flush_thread_burst_interval 0.01", "  </buffer>", "</match>");
  return lines.join("\n") + "\n";
}

/** A workdir for a peer whose config we write ourselves (the given one, or a new temporary one). */
function configDir(workdir: string | undefined, name: string): string {
  if (workdir !== undefined) {
    mkdirSync(workdir, { recursive: true });
    return workdir;
  }
  return mkdtempSync(path.join(tmpdir(), `peer-${name}-`));
}

/** Starts a real Fluentd 1.15.3 and resolves once it is ready (its worker runs). */
export function startFluentd(o: FluentdOptions): Promise<Peer> {
  if ((o.clientCa !== undefined || o.fileBuffer) && o.config === undefined) {
    const workdir = configDir(o.workdir, "fluentd");
    const config = path.join(workdir, "uwsgi-forward-fluentd.conf");
    writeFileSync(config, fluentdConfig(o));
    o = {
      port: o.port,
      bind: o.bind,
      workdir,
      config,
      timeoutS: o.timeoutS,
      ...(o.out ? { out: o.out } : {}),
    };
  }
  const flags = ["--port", String(o.port), ...authFlags(o), ...common(o)];
  if (o.norikra !== undefined) flags.push("--norikra", o.norikra);
  if (o.norikraPrefix !== undefined) flags.push("--norikra-prefix", o.norikraPrefix);
  return startPeer("fluentd", "fluentd.sh", flags, o.port);
}

/**
 * The config `fluent-bit.sh` generates for TCP, plus what its flags cannot say: mutual TLS (`tls.verify on` with the
 * client CA) and printing in_forward's records without the stream task.
 */
function fluentBitConfig(o: FluentBitOptions): string {
  const lines = ["[SERVICE]", "    flush 0.2", `    log_level ${o.logLevel ?? "info"}`];
  if (!o.plainOutput) lines.push("    streams_file @WORKDIR@/streams.conf");
  lines.push("[INPUT]", "    name forward", "    alias peer_in", "    listen @BIND@", "    port @PORT@");
  if (o.sharedKey !== undefined) {
    lines.push(`    shared_key ${o.sharedKey}`, `    self_hostname ${o.selfHostname ?? "fluentbit.peer"}`);
    for (const u of o.users ?? []) lines.push(`    security.users ${u.username} ${u.password}`);
  }
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
    lines.push("    tls on", `    tls.crt_file ${o.tlsCert}`, `    tls.key_file ${o.tlsKey}`);
    lines.push(
      o.clientCa === undefined ? "    tls.verify off" : `    tls.verify on\n    tls.ca_file ${o.clientCa}`,
    );
  }
  lines.push("[OUTPUT]", "    name stdout", `    match ${o.plainOutput ? "*" : "_peer.events"}`);
  lines.push("    format json_lines", "    json_date_format iso8601", "    json_date_key _date");
  return lines.join("\n") + "\n";
}

/** Starts a real Fluent Bit 5.1.1 and resolves once it listens. */
export function startFluentBit(o: FluentBitOptions): Promise<Peer> {
  if ((o.clientCa !== undefined || o.plainOutput) && o.config === undefined) {
    const workdir = configDir(o.workdir, "fluent-bit");
    const config = path.join(workdir, "uwsgi-forward-fluent-bit.conf");
    writeFileSync(config, fluentBitConfig(o));
    const ready = o.plainOutput ? "stdout.0\\] worker #0 started" : "registered task: peer_events";
    // The script still writes WORKDIR/streams.conf (the stream task that prints each record with its tag).
    o = {
      port: o.port,
      workdir,
      config,
      ready,
      timeoutS: o.timeoutS,
      ...(o.out ? { out: o.out } : {}),
    };
  }
  const flags = ["--port", String(o.port), ...authFlags(o), ...common(o)];
  if (o.ready !== undefined) flags.push("--ready", o.ready);
  return startPeer("fluent-bit", "fluent-bit.sh", flags, o.port);
}

/** Starts a real Norikra 1.5.1 (in memory) and resolves once its RPC port answers (15–30 s). */
export function startNorikra(o: NorikraOptions): Promise<Peer> {
  const flags = ["start", "--rpc-port", String(o.rpcPort), "--ui-port", String(o.uiPort)];
  if (o.workdir !== undefined) flags.push("--workdir", o.workdir);
  flags.push("--timeout", String(o.timeoutS ?? 180));
  return startPeer("norikra", "norikra.sh", flags, o.rpcPort);
}

/** Runs `norikra.sh client --port PORT ARGS…` (norikra-client 1.4.0) and resolves with its stdout. */
export function norikraClient(port: number, args: string[], input?: string): Promise<string> {
  const dir = requirePeers();
  return new Promise((resolve, reject) => {
    const child = execFile(
      "bash",
      [path.join(dir, "norikra.sh"), "client", "--port", String(port), ...args],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`norikra client ${args.join(" ")} failed: ${String(err)}\n${stderr}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input ?? "");
  });
}

function requirePeers(): string {
  const dir = peersDir();
  if (dir === undefined) throw new Error(`${PEERS_ENV} is not set`);
  return dir;
}

function startPeer(name: Peer["name"], script: string, flags: string[], port: number): Promise<Peer> {
  const dir = requirePeers();
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [path.join(dir, script), ...flags],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${script} ${flags.join(" ")} failed: ${String(err)}\n${stdout}\n${stderr}`));
          return;
        }
        const info: Record<string, string> = {};
        for (const line of stdout.split("\n")) {
          const eq = line.indexOf("=");
          if (eq > 0) info[line.slice(0, eq)] = line.slice(eq + 1);
        }
        const pid = Number(info.pid);
        if (!Number.isInteger(pid) || pid <= 0) {
          reject(new Error(`${script} printed no pid:\n${stdout}\n${stderr}`));
          return;
        }
        resolve(peerHandle(name, pid, port, info));
      },
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function peerHandle(name: Peer["name"], pid: number, port: number, info: Record<string, string>): Peer {
  const workdir = info.workdir ?? "";
  return {
    name,
    pid,
    port,
    out: info.out ?? path.join(workdir, "events.jsonl"),
    log: info.log ?? "",
    workdir,
    info,
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000) {
      if (!alive(pid)) return;
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, signal);
      } catch {
        return;
      }
      const deadline = Date.now() + graceMs;
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      if (alive(pid)) process.kill(pid, "SIGKILL");
      while (alive(pid)) await sleep(20);
    },
    signal(signal: NodeJS.Signals) {
      process.kill(pid, signal);
    },
    readLog() {
      return info.log && existsSync(info.log) ? readFileSync(info.log, "utf8") : "";
    },
  };
}

/** Every JSON line of a peer's events file so far (a half-written last line is left for the next read). */
export function readEvents(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const events: Record<string, unknown>[] = [];
  const lines = text.split("\n");
  if (!text.endsWith("\n")) lines.pop();
  for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
  return events;
}

/**
 * Polls the events file until `done(events)` holds, or rejects after `timeoutMs` with the count seen.
 * Peers write their events file in batches (Fluentd within ~0.2 s, Fluent Bit 0.4–2 s).
 */
export async function waitForEvents(
  file: string,
  done: (events: Record<string, unknown>[]) => boolean,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = readEvents(file);
    if (done(events)) return events;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for events in ${file}: ${events.length} so far`,
      );
    }
    await sleep(100);
  }
}

/** Waits until the events file stops growing for `quietMs` and returns what it holds. */
export async function settledEvents(file: string, quietMs = 2_000, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = readEvents(file).length;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs || Date.now() > deadline) {
      return readEvents(file);
    }
    await sleep(100);
  }
}

/** A temporary directory for one test, removed when the test ends. */
export function peerTempDir(
  t: { after: (fn: () => void) => void },
  prefix = "uwsgi-forward-interop-",
): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A real Fluentd (acks, the events file) on a free port of 127.0.0.1 in a temp workdir of its own, stopped after the test. */
export async function fluentdForTest(t: { after: (fn: () => void) => void }): Promise<Peer> {
  const fluentd = await startFluentd({ port: await freePort(), workdir: peerTempDir(t) });
  t.after(() => void fluentd.stop());
  return fluentd;
}

/** How long an output may stay unchanged, short of the expected count, before it is taken as final (a stalled server). */
const STALL_MS = 10_000;

/**
 * The events of one or more peers' events files once they are final: `expected` events are there (or more) and
 * nothing was added for `quietMs`, or nothing was added for 10 s short of `expected` (lost events). A loaded machine
 * can delay a peer's writes by seconds, so a quiet period alone would read a file before the peer wrote it.
 */
export async function settledOutput(
  files: string[],
  expected: number,
  quietMs: number,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  const read = () => files.flatMap((f) => readEvents(f));
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = read().length;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else {
      const quiet = Date.now() - since;
      if ((n >= expected && quiet >= quietMs) || quiet >= STALL_MS || Date.now() > deadline) return read();
    }
    await sleep(100);
  }
}
