import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Discovery, type DiscoverySpec, type Endpoint } from "../../src/forward/servers/discovery.js";
import type { NameResolver, ResolvedAddress, SrvRecord } from "../../src/forward/servers/resolver.js";
import { dnsServersResolver } from "../../src/forward/servers/resolver.js";
import { skipWithoutDnsmasq, startDnsmasq } from "../helpers/dnsmasq.js";
import { TestClock, until } from "../helpers/fake-time.js";

/** A resolver whose answers the test sets: addresses or an error per name, SRV records per name. */
function scriptedResolver() {
  const addresses = new Map<string, ResolvedAddress[] | Error>();
  const srv = new Map<string, SrvRecord[]>();
  const calls: string[] = [];
  const resolver: NameResolver = {
    addresses: async (host) => {
      calls.push(host);
      const answer = addresses.get(host) ?? Object.assign(new Error("no such name"), { code: "ENOTFOUND" });
      if (answer instanceof Error) throw answer;
      return answer;
    },
    srv: async (name) => {
      calls.push(`srv ${name}`);
      const answer = srv.get(name);
      if (!answer) throw Object.assign(new Error("no such name"), { code: "ENOTFOUND" });
      return answer;
    },
  };
  return { resolver, addresses, srv, calls };
}

const spec = (over: Partial<DiscoverySpec>): DiscoverySpec => ({
  host: "127.0.0.1",
  port: 24224,
  path: undefined,
  srv: undefined,
  weight: 60,
  standby: false,
  ...over,
});

/** A Discovery on a TestClock: its lookups are due only as the test ticks `clock`. */
function watch(t: TestContext, s: DiscoverySpec, resolver: NameResolver, refreshMs = 10_000) {
  const clock = new TestClock();
  const sets: string[][] = [];
  const errors: string[] = [];
  let last: readonly Endpoint[] = [];
  const discovery = new Discovery(
    s,
    { refreshMs, resolver, clock },
    {
      endpoints: (e) => {
        last = e;
        sets.push(e.map((x) => x.key));
      },
      failed: (err) => errors.push(`${err.code}: ${err.message}`),
    },
  );
  t.after(() => discovery.stop());
  return { discovery, clock, sets, errors, last: () => last };
}

/** Waits until the lookup under way has been answered and the next one is scheduled. */
function scheduled(d: Discovery): Promise<void> {
  return until(() => d.nextLookupAt !== undefined, "the next lookup scheduled");
}

const v4 = (...list: string[]): ResolvedAddress[] => list.map((address) => ({ address, ttlMs: undefined }));

test("an IP address or a unix socket is its own endpoint, found at once without a lookup", (t) => {
  const { resolver, calls } = scriptedResolver();
  const ip = watch(t, spec({ host: "10.1.2.3" }), resolver);
  ip.discovery.start();
  assert.deepEqual(ip.sets, [["10.1.2.3:24224"]]);
  const unix = watch(t, spec({ path: "/run/fluentd.sock" }), resolver);
  unix.discovery.start();
  assert.deepEqual(unix.sets, [["/run/fluentd.sock"]]);
  const v6 = watch(t, spec({ host: "::1", standby: true }), resolver);
  v6.discovery.start();
  assert.deepEqual(v6.last(), [
    { key: "[::1]:24224", host: "::1", address: "::1", port: 24224, weight: 60, tier: 1 },
  ]);
  assert.deepEqual(calls, []);
});

test("a host name stands for every address it resolves to, looked up again every refreshMs", async (t) => {
  const { resolver, addresses, calls } = scriptedResolver();
  addresses.set("agg.test", v4("10.0.0.2", "10.0.0.3"));
  const w = watch(t, spec({ host: "agg.test" }), resolver, 5000);
  w.discovery.start();
  await scheduled(w.discovery);
  assert.deepEqual(w.sets[0], ["10.0.0.2:24224", "10.0.0.3:24224"]);
  assert.equal(w.last()[0]!.host, "agg.test", "each endpoint keeps the name, for TLS and messages");

  addresses.set("agg.test", v4("10.0.0.3", "10.0.0.4", "10.0.0.2"));
  w.clock.tick(4999);
  assert.equal(calls.length, 1, "not before refreshMs");
  w.clock.tick(1);
  await scheduled(w.discovery);
  assert.deepEqual(w.sets[1], ["10.0.0.2:24224", "10.0.0.3:24224", "10.0.0.4:24224"]);

  addresses.set("agg.test", v4("10.0.0.4", "10.0.0.3", "10.0.0.2"));
  w.clock.tick(5000);
  await scheduled(w.discovery);
  assert.equal(calls.length, 3);
  addresses.set("agg.test", v4("10.0.0.4"));
  w.clock.tick(5000);
  await until(() => w.sets.length === 3, "the fourth answer");
  assert.deepEqual(
    w.sets[2],
    ["10.0.0.4:24224"],
    "the same set in another order is no change; a removal is one",
  );
});

test("a TTL shorter than refreshMs brings the next lookup forward, never to less than a second", async (t) => {
  const { resolver, addresses, calls } = scriptedResolver();
  addresses.set("agg.test", [
    { address: "10.0.0.2", ttlMs: 3000 },
    { address: "10.0.0.3", ttlMs: 7000 },
  ]);
  const w = watch(t, spec({ host: "agg.test" }), resolver, 30_000);
  w.discovery.start();
  await scheduled(w.discovery);
  w.clock.tick(2999);
  assert.equal(calls.length, 1);
  addresses.set("agg.test", [{ address: "10.0.0.2", ttlMs: 0 }]);
  w.clock.tick(1);
  await scheduled(w.discovery);
  assert.equal(calls.length, 2, "a lookup at the shortest TTL");
  w.clock.tick(999);
  assert.equal(calls.length, 2, "a TTL of 0 is not a busy loop");
  w.clock.tick(1);
  await until(() => calls.length === 3, "a lookup a second later");
});

test("a failed lookup keeps the last addresses and is reported once until a lookup succeeds", async (t) => {
  const { resolver, addresses, calls } = scriptedResolver();
  const w = watch(t, spec({ host: "agg.test" }), resolver, 8000);
  w.discovery.start();
  await scheduled(w.discovery);
  assert.match(w.errors[0]!, /^FORWARD_RESOLVE_FAILED: cannot resolve the addresses of agg.test: ENOTFOUND/);
  // No answer yet: tried again after 1 s, 2 s, 4 s, then every refreshMs.
  for (const [delay, lookups] of [
    [1000, 2],
    [2000, 3],
    [4000, 4],
    [8000, 5],
    [8000, 6],
  ] as const) {
    w.clock.tick(delay - 1);
    assert.equal(calls.length, lookups - 1);
    w.clock.tick(1);
    await scheduled(w.discovery);
    assert.equal(calls.length, lookups);
  }
  assert.equal(w.errors.length, 1, "one report for the whole fault");
  addresses.set("agg.test", v4("10.0.0.2"));
  w.clock.tick(8000);
  await scheduled(w.discovery);
  assert.equal(w.sets.length, 1, "an answer at last");
  addresses.delete("agg.test");
  w.clock.tick(8000);
  await until(() => w.errors.length === 2, "a new fault is reported again");
  assert.deepEqual(
    w.last().map((e) => e.key),
    ["10.0.0.2:24224"],
    "the last good set stays",
  );
});

test("SRV: the targets and ports are the endpoints, priorities rank them into tiers, weight 0 becomes 1", async (t) => {
  const { resolver, addresses, srv } = scriptedResolver();
  srv.set("_fluentd._tcp.agg.test", [
    { name: "b.agg.test", port: 24225, priority: 20, weight: 0 },
    { name: "a.agg.test", port: 24224, priority: 10, weight: 30 },
    { name: "10.0.0.9", port: 24226, priority: 10, weight: 10 },
  ]);
  addresses.set("a.agg.test", v4("10.0.0.2", "10.0.0.3"));
  addresses.set("b.agg.test", v4("10.0.0.4"));
  const w = watch(t, spec({ srv: "_fluentd._tcp.agg.test" }), resolver);
  w.discovery.start();
  await until(() => w.sets.length === 1, "the first answer");
  assert.deepEqual(
    w.last().map((e) => [e.key, e.host, e.tier, e.weight]),
    [
      ["10.0.0.2:24224", "a.agg.test", 0, 30],
      ["10.0.0.3:24224", "a.agg.test", 0, 30],
      ["10.0.0.4:24225", "b.agg.test", 1, 1],
      ["10.0.0.9:24226", "10.0.0.9", 0, 10],
    ],
  );
});

test("an answer that arrives after stop() is ignored", async (t) => {
  let release: (a: ResolvedAddress[]) => void = () => {};
  const resolver: NameResolver = {
    addresses: () => new Promise((resolve) => (release = resolve)),
    srv: () => Promise.reject(new Error("unused")),
  };
  const w = watch(t, spec({ host: "agg.test" }), resolver);
  w.discovery.start();
  w.discovery.stop();
  release(v4("10.0.0.2"));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(w.sets, []);
});

test(
  "against a real DNS server: every A record of a name, SRV records, and a name that does not exist",
  { skip: skipWithoutDnsmasq() },
  async (t) => {
    const dns = await startDnsmasq(
      t,
      { "agg.test": ["127.0.0.2", "127.0.0.3"], "b.agg.test": ["127.0.0.4"] },
      [
        { name: "_fluentd._tcp.agg.test", target: "agg.test", port: 24224, priority: 1, weight: 10 },
        { name: "_fluentd._tcp.agg.test", target: "b.agg.test", port: 24225, priority: 2, weight: 10 },
      ],
    );
    const resolver = dnsServersResolver([dns.server], 1000);
    const byName = watch(t, spec({ host: "agg.test" }), resolver);
    byName.discovery.start();
    await until(() => byName.sets.length === 1, "the A records", 2_000_000);
    assert.deepEqual(byName.sets[0], ["127.0.0.2:24224", "127.0.0.3:24224"]);
    const bySrv = watch(t, spec({ srv: "_fluentd._tcp.agg.test" }), resolver);
    bySrv.discovery.start();
    await until(() => bySrv.sets.length === 1, "the SRV records", 2_000_000);
    assert.deepEqual(
      bySrv.last().map((e) => [e.key, e.tier]),
      [
        ["127.0.0.2:24224", 0],
        ["127.0.0.3:24224", 0],
        ["127.0.0.4:24225", 1],
      ],
    );
    const missing = watch(t, spec({ host: "nope.agg.test" }), resolver);
    missing.discovery.start();
    await until(() => missing.errors.length === 1, "the failure", 2_000_000);
    assert.match(missing.errors[0]!, /ENOTFOUND/);
  },
);
