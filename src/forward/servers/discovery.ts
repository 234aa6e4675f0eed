import net from "node:net";
import { ForwardResolveError } from "../errors.js";
import type { Clock, Timer } from "../clock.js";
import type { NameResolver, ResolvedAddress, SrvRecord } from "./resolver.js";

/** What discovery needs of a configured server: where it is, and how it ranks. */
export interface DiscoverySpec {
  host: string;
  port: number;
  path: string | undefined;
  /** An SRV name: the records' targets and ports are the servers. */
  srv: string | undefined;
  weight: number;
  standby: boolean;
}

/** One address to connect to, found by discovery. */
export interface Endpoint {
  /** Unique among the endpoints of one configured server: `address:port`, or the unix socket path. */
  readonly key: string;
  /** The name it came from (the configured host, or an SRV target): for TLS and for messages. */
  readonly host: string;
  /** The IP address to connect to; undefined for a unix socket. */
  readonly address: string | undefined;
  readonly port: number;
  readonly weight: number;
  /** 0 for primaries; standbys, and SRV priorities after the first, rank 1, 2…: a tier is used only while every lower one is down. */
  readonly tier: number;
}

/** How often names are resolved again, and by what. */
export interface DiscoveryOptions {
  /** Resolve names again this often; sooner when a record's TTL is shorter (never more than once a second). */
  refreshMs: number;
  resolver: NameResolver;
  clock: Clock;
}

/** What discovery tells its owner. */
export interface DiscoveryListener {
  /** The endpoints changed (the first answer included). */
  endpoints(endpoints: readonly Endpoint[]): void;
  /** A lookup failed: the last good endpoints stay. Called once per fault, until a lookup succeeds again. */
  failed(error: ForwardResolveError): void;
}

const MIN_REFRESH_MS = 1000;

/**
 * The endpoints of one configured server: itself when it is an IP or a unix socket; every A/AAAA address of a host
 * name; the targets of an SRV name, ranked by priority. Names are resolved again every `refreshMs` (or at the
 * records' TTL, when shorter); a failed lookup keeps the last good set and is reported once.
 */
export class Discovery {
  readonly #spec: DiscoverySpec;
  readonly #options: DiscoveryOptions;
  readonly #listener: DiscoveryListener;
  #endpoints: readonly Endpoint[] = [];
  #timer: Timer | undefined;
  #nextLookupAt: number | undefined;
  #generation = 0;
  #running = false;
  #failures = 0;
  #fault: string | undefined;
  #ref = true;

  constructor(spec: DiscoverySpec, options: DiscoveryOptions, listener: DiscoveryListener) {
    this.#spec = spec;
    this.#options = options;
    this.#listener = listener;
  }

  /** True when the server is a fixed address (IP or unix socket): its one endpoint is known without a lookup. */
  get isStatic(): boolean {
    return this.#spec.srv === undefined && (this.#spec.path !== undefined || net.isIP(this.#spec.host) !== 0);
  }

  /** When the next lookup is due (on the clock), while one is scheduled. */
  get nextLookupAt(): number | undefined {
    return this.#nextLookupAt;
  }

  /** The endpoints known now. */
  get endpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  /** Finds the endpoints: at once for a fixed address, else by a first lookup, then on schedule. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const s = this.#spec;
    if (s.path !== undefined) {
      this.#set([
        { key: s.path, host: s.path, address: undefined, port: 0, weight: s.weight, tier: tierOf(s) },
      ]);
    } else if (this.isStatic) {
      this.#set([endpoint(s.host, s.host, s.port, s.weight, tierOf(s))]);
    } else {
      this.#lookup();
    }
  }

  /** Stops resolving; an answer still on its way is ignored. */
  stop(): void {
    this.#running = false;
    this.#generation++;
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = this.#nextLookupAt = undefined;
  }

  /** Lets the refresh timer keep the process alive (`true`) or not. */
  setRef(ref: boolean): void {
    this.#ref = ref;
    this.#timer?.[ref ? "ref" : "unref"]();
  }

  #lookup(): void {
    this.#nextLookupAt = undefined;
    const generation = ++this.#generation;
    const s = this.#spec;
    const found = s.srv === undefined ? this.#byName(s) : this.#bySrv(s.srv);
    found.then(
      ({ endpoints, ttlMs }) => {
        if (generation !== this.#generation) return;
        this.#failures = 0;
        this.#fault = undefined;
        this.#set(endpoints);
        this.#schedule(
          ttlMs === undefined ? this.#options.refreshMs : Math.min(this.#options.refreshMs, ttlMs),
        );
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        this.#failures++;
        const error = resolveError(s, err);
        if (this.#fault !== error.message) {
          this.#fault = error.message;
          this.#listener.failed(error);
        }
        // Until a first answer, try again soon (1 s, 2 s, 4 s… up to refreshMs); after one, at the usual pace.
        const soon = MIN_REFRESH_MS * 2 ** Math.min(this.#failures - 1, 10);
        this.#schedule(
          this.#endpoints.length === 0 ? Math.min(soon, this.#options.refreshMs) : this.#options.refreshMs,
        );
      },
    );
  }

  async #byName(s: DiscoverySpec): Promise<{ endpoints: Endpoint[]; ttlMs: number | undefined }> {
    const addresses = await this.#options.resolver.addresses(s.host);
    return {
      endpoints: addresses.map((a) => endpoint(s.host, a.address, s.port, s.weight, tierOf(s))),
      ttlMs: minTtl(addresses),
    };
  }

  async #bySrv(name: string): Promise<{ endpoints: Endpoint[]; ttlMs: number | undefined }> {
    const records = await this.#options.resolver.srv(name);
    const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
    const lookups = await Promise.allSettled(records.map((r) => this.#srvTarget(r)));
    const endpoints: Endpoint[] = [];
    let ttlMs: number | undefined;
    let firstError: unknown;
    lookups.forEach((lookup, i) => {
      if (lookup.status === "rejected") {
        firstError ??= lookup.reason;
        return;
      }
      const r = records[i]!;
      const tier = priorities.indexOf(r.priority);
      // SRV weight 0 means "rarely": the smallest share weighted balancing can give.
      for (const a of lookup.value)
        endpoints.push(endpoint(r.name, a.address, r.port, Math.max(1, r.weight), tier));
      const t = minTtl(lookup.value);
      if (t !== undefined) ttlMs = Math.min(ttlMs ?? t, t);
    });
    if (endpoints.length === 0) throw firstError ?? new Error(`${name} has no SRV target`);
    return { endpoints, ttlMs };
  }

  #srvTarget(r: SrvRecord): Promise<ResolvedAddress[]> {
    if (net.isIP(r.name) !== 0) return Promise.resolve([{ address: r.name, ttlMs: undefined }]);
    return this.#options.resolver.addresses(r.name);
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    const clock = this.#options.clock;
    clock.clearTimeout(this.#timer);
    const delay = Math.max(MIN_REFRESH_MS, ms);
    this.#nextLookupAt = clock.now() + delay;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#running) this.#lookup();
    }, delay);
    if (!this.#ref) this.#timer.unref();
  }

  #set(endpoints: Endpoint[]): void {
    const sorted = [...new Map(endpoints.map((e) => [e.key, e])).values()].sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
    );
    if (sameEndpoints(sorted, this.#endpoints)) return;
    this.#endpoints = sorted;
    this.#listener.endpoints(sorted);
  }
}

function tierOf(s: DiscoverySpec): number {
  return s.standby ? 1 : 0;
}

function endpoint(host: string, address: string, port: number, weight: number, tier: number): Endpoint {
  const key = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  return { key, host, address, port, weight, tier };
}

function minTtl(addresses: readonly ResolvedAddress[]): number | undefined {
  let ttl: number | undefined;
  for (const a of addresses) if (a.ttlMs !== undefined) ttl = Math.min(ttl ?? a.ttlMs, a.ttlMs);
  return ttl;
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return (
    a.length === b.length &&
    a.every((e, i) => {
      const o = b[i]!;
      return e.key === o.key && e.host === o.host && e.weight === o.weight && e.tier === o.tier;
    })
  );
}

function resolveError(s: DiscoverySpec, err: unknown): ForwardResolveError {
  const what = s.srv === undefined ? `the addresses of ${s.host}` : `the SRV records of ${s.srv}`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code ?? (err instanceof Error ? err.message : String(err));
  return new ForwardResolveError(`cannot resolve ${what}: ${why}; the last addresses found stay in use`, {
    cause: err,
  });
}
