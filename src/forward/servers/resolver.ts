import dns from "node:dns";

/** One address a name resolved to, and for how long the answer may be trusted (unknown from the system resolver). */
export interface ResolvedAddress {
  address: string;
  /** The record's TTL in ms, when the resolver knows it. */
  ttlMs: number | undefined;
}

/** One SRV record: a target host and port, its priority (lower first) and its weight among equal priorities. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * Name resolution as discovery sees it: the one seam between the sink and DNS, so that discovery is tested with a
 * resolver written in the test, and the real ones with a real DNS server.
 */
export interface NameResolver {
  /** Every IPv4 and IPv6 address of `host`; rejects when it has none. */
  addresses(host: string): Promise<ResolvedAddress[]>;
  /** The SRV records of `name`; rejects when it has none. */
  srv(name: string): Promise<SrvRecord[]>;
}

/**
 * The system's resolver: addresses by `getaddrinfo` (so `/etc/hosts`, search domains and nsswitch apply, as for
 * `net.connect`; no TTL), SRV records from the servers in `/etc/resolv.conf`.
 */
export const systemResolver: NameResolver = {
  async addresses(host) {
    const found = await dns.promises.lookup(host, { all: true, verbatim: true });
    return dedupe(found.map((a) => ({ address: a.address, ttlMs: undefined })));
  },
  srv: (name) => dns.promises.resolveSrv(name),
};

/** A resolver that asks `servers` (`"10.0.0.2"`, `"10.0.0.2:5353"`, `"[::1]:53"`) directly, with the records' TTLs. */
export function dnsServersResolver(servers: readonly string[], timeoutMs: number): NameResolver {
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 2 });
  resolver.setServers([...servers]);
  return {
    async addresses(host) {
      const [v4, v6] = await Promise.allSettled([
        resolver.resolve4(host, { ttl: true }),
        resolver.resolve6(host, { ttl: true }),
      ]);
      if (v4.status === "rejected" && v6.status === "rejected") throw v4.reason;
      const records = [
        ...(v4.status === "fulfilled" ? v4.value : []),
        ...(v6.status === "fulfilled" ? v6.value : []),
      ];
      if (records.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: "ENODATA" });
      return dedupe(records.map((r) => ({ address: r.address, ttlMs: r.ttl * 1000 })));
    },
    srv: (name) => resolver.resolveSrv(name),
  };
}

function dedupe(addresses: ResolvedAddress[]): ResolvedAddress[] {
  const seen = new Map<string, ResolvedAddress>();
  for (const a of addresses) if (!seen.has(a.address)) seen.set(a.address, a);
  return [...seen.values()];
}
