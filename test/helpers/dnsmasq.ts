import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { dnsServersResolver } from "../../src/forward/servers/resolver.js";
import { freePort } from "./free-port.js";

/** Where Debian's `dnsmasq-base` puts the binary. */
const DNSMASQ = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].find(
  (p) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0,
);

/** Why a test that needs a real DNS server cannot run here, or false when it can. */
export function skipWithoutDnsmasq(): false | string {
  return DNSMASQ === undefined
    ? "dnsmasq is not installed (Debian: apt-get install dnsmasq-base; scripts/setup.sh installs it)"
    : false;
}

/** An SRV record as dnsmasq's --srv-host takes it. */
export interface SrvHost {
  name: string;
  target: string;
  port: number;
  priority: number;
  weight: number;
}

/** A real DNS server on 127.0.0.1 that answers for `*.test` only, from a hosts file it re-reads on SIGHUP. */
export interface Dnsmasq {
  /** `127.0.0.1:PORT`, for `dns.servers`. */
  readonly server: string;
  /** Replaces the A/AAAA records (name → addresses) and waits until dnsmasq answers with them. */
  setHosts(hosts: Record<string, string[]>): Promise<void>;
  stop(): Promise<void>;
}

function hostsFile(hosts: Record<string, string[]>): string {
  return Object.entries(hosts)
    .flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}\n`))
    .join("");
}

/** Starts dnsmasq with `hosts` (TTL `ttlS` seconds) and `srv` records; stopped after the test. */
export async function startDnsmasq(
  t: { after: (fn: () => Promise<void>) => void },
  hosts: Record<string, string[]>,
  srv: SrvHost[] = [],
  ttlS = 1,
): Promise<Dnsmasq> {
  if (DNSMASQ === undefined) throw new Error(String(skipWithoutDnsmasq()));
  const dir = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-dnsmasq-"));
  const file = path.join(dir, "hosts");
  writeFileSync(file, hostsFile(hosts));
  const port = await freePort();
  const args = [
    "--no-daemon",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    "--local=/test/",
    `--addn-hosts=${file}`,
    `--local-ttl=${ttlS}`,
    "--log-facility=-",
    ...srv.map((r) => `--srv-host=${r.name},${r.target},${r.port},${r.priority},${r.weight}`),
  ];
  const child = spawn(DNSMASQ, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(child, "exit");
  const server = `127.0.0.1:${port}`;
  const resolver = dnsServersResolver([server], 500);
  const answers = async (name: string, want: string[]): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const got = await resolver.addresses(name).then(
        (a) => a.map((x) => x.address).sort(),
        () => [],
      );
      if (JSON.stringify(got) === JSON.stringify([...want].sort())) return;
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`dnsmasq never answered ${name} with ${want.join(", ")}; its log:\n${log}`);
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  const first = Object.entries(hosts)[0];
  if (first) await answers(first[0], first[1]);
  return {
    server,
    async setHosts(next) {
      writeFileSync(file, hostsFile(next));
      child.kill("SIGHUP");
      for (const [name, addresses] of Object.entries(next)) await answers(name, addresses);
    },
    stop,
  };
}
