import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink, type ForwardSinkOptions } from "../../src/forward/index.js";
import { skipWithoutDnsmasq, startDnsmasq } from "../helpers/dnsmasq.js";
import { until } from "../helpers/fake-time.js";
import { freePort } from "../helpers/free-port.js";
import { roundRobinBalancer } from "../helpers/tcp-balancer.js";
import { FAULT_TAG, numbered } from "../helpers/misbehaving-emit.js";
import { type ForwardReceiver } from "../helpers/forward-receiver.js";
import { forwardReceiver } from "../helpers/misbehaving-servers.js";

/** Sends numbered events, `perTick` every `everyMs`, until stopped; counts what was accepted. */
function steadyStream(sink: ForwardSink, perTick = 20, everyMs = 5) {
  let next = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) sink.send(FAULT_TAG, numbered(next++));
  }, everyMs);
  return {
    get sent() {
      return next;
    },
    stop: () => clearInterval(timer),
  };
}

/** Receivers on the same port of several loopback addresses (127.0.0.2, .3…), closed after the test. */
async function receiversOn(
  t: TestContext,
  hosts: string[],
): Promise<{ port: number; rx: ForwardReceiver[] }> {
  const port = await freePort();
  const rx = await Promise.all(hosts.map((host) => forwardReceiver({ host }, port)));
  t.after(() => Promise.all(rx.map((r) => r.close())).then(() => undefined));
  return { port, rx };
}

const sinkOptions: ForwardSinkOptions = {
  requireAck: true,
  batch: { maxEvents: 50, maxDelayMs: 10 },
  reconnect: { minDelayMs: 50, maxDelayMs: 200 },
};

function uniqueTotal(rx: ForwardReceiver[]): number {
  const ids = new Set<unknown>();
  for (const r of rx) for (const id of r.seen) ids.add(id);
  return ids.size;
}

test(
  "a name stands for all its addresses: one added takes traffic after a refresh, one removed gets nothing more, nothing is lost",
  { skip: skipWithoutDnsmasq() },
  async (t) => {
    const { port, rx } = await receiversOn(t, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    const [a, b, c] = rx as [ForwardReceiver, ForwardReceiver, ForwardReceiver];
    const dns = await startDnsmasq(t, { "agg.test": ["127.0.0.2", "127.0.0.3"] });
    const sink = new ForwardSink({
      ...sinkOptions,
      servers: [{ host: "agg.test", port }],
      dns: { servers: [dns.server], refreshMs: 1000 },
    });
    t.after(() => sink.close({ timeoutMs: 1000 }));
    const stream = steadyStream(sink);
    await until(() => a.events.length > 0 && b.events.length > 0, "both addresses take traffic", 10_000_000);
    assert.equal(c.events.length, 0);
    assert.deepEqual(
      sink
        .stats()
        .servers.map((s) => s.id)
        .sort(),
      [`agg.test:${port}/127.0.0.2`, `agg.test:${port}/127.0.0.3`],
    );

    await dns.setHosts({ "agg.test": ["127.0.0.2", "127.0.0.3", "127.0.0.4"] });
    await until(() => c.events.length > 0, "the added address takes traffic", 10_000_000);

    await dns.setHosts({ "agg.test": ["127.0.0.3", "127.0.0.4"] });
    await until(
      () => !sink.stats().servers.some((s) => s.address === "127.0.0.2"),
      "the removed address left the pool",
      10_000_000,
    );
    const atRemoval = a.events.length;
    const bBefore = b.events.length;
    await until(() => b.events.length > bBefore + 500, "more traffic after the removal", 10_000_000);
    stream.stop();
    await sink.flush();
    assert.equal(a.events.length, atRemoval, "nothing reached the removed address after it left");
    assert.equal(uniqueTotal(rx), stream.sent, "every event arrived");
    assert.equal(a.duplicates + b.duplicates + c.duplicates, 0);
    assert.equal(sink.stats().dropped, 0);
  },
);

test("setServers moves the traffic; the server that left is drained (its acks come in) and nothing is lost or sent twice", async (t) => {
  const { port, rx } = await receiversOn(t, ["127.0.0.2", "127.0.0.3"]);
  const [a, b] = rx as [ForwardReceiver, ForwardReceiver];
  const sink = new ForwardSink({ ...sinkOptions, servers: [{ host: "127.0.0.2", port }] });
  t.after(() => sink.close({ timeoutMs: 1000 }));
  const disconnects: string[] = [];
  sink.on("disconnect", (server, reason) => disconnects.push(`${server.id} ${reason?.message ?? "drained"}`));
  const stream = steadyStream(sink);
  await until(() => a.events.length > 500, "traffic to the first server", 10_000_000);
  sink.setServers([{ host: "127.0.0.3", port }]);
  await until(() => sink.stats().servers.length === 1, "the first server left the pool", 10_000_000);
  const atSwitch = a.events.length;
  await until(() => b.events.length > 500, "traffic to the second server", 10_000_000);
  stream.stop();
  await sink.flush();
  assert.equal(a.events.length, atSwitch);
  assert.equal(uniqueTotal(rx), stream.sent);
  assert.equal(a.duplicates + b.duplicates + sink.stats().retried, 0, "nothing was sent twice");
  assert.deepEqual(disconnects, [`127.0.0.2:${port} drained`]);
  assert.throws(() => sink.setServers([]), { code: "INVALID_OPTION" });
  assert.throws(() => sink.setServers([{ srv: "_x._tcp.test", port: 1 }]), { code: "INVALID_OPTION" });
});

test(
  "SRV: the priority-2 target takes traffic only while every priority-1 target is down",
  { skip: skipWithoutDnsmasq() },
  async (t) => {
    const { port, rx } = await receiversOn(t, ["127.0.0.2", "127.0.0.3"]);
    const [first, second] = rx as [ForwardReceiver, ForwardReceiver];
    const dns = await startDnsmasq(t, { "a.agg.test": ["127.0.0.2"], "b.agg.test": ["127.0.0.3"] }, [
      { name: "_fluentd._tcp.agg.test", target: "a.agg.test", port, priority: 1, weight: 10 },
      { name: "_fluentd._tcp.agg.test", target: "b.agg.test", port, priority: 2, weight: 10 },
    ]);
    const sink = new ForwardSink({
      ...sinkOptions,
      servers: [{ srv: "_fluentd._tcp.agg.test" }],
      dns: { servers: [dns.server] },
    });
    t.after(() => sink.close({ timeoutMs: 1000 }));
    const stream = steadyStream(sink);
    await until(() => first.events.length > 500, "the priority-1 target takes the traffic", 10_000_000);
    assert.equal(second.events.length, 0);
    await first.stop();
    await until(
      () => second.events.length > 500,
      "the priority-2 target while priority 1 is down",
      10_000_000,
    );
    await first.start();
    await until(
      () => sink.stats().servers.find((s) => s.host === "a.agg.test")?.state === "up",
      "priority 1 is back",
      10_000_000,
    );
    const secondAtReturn = second.events.length;
    const firstAtReturn = first.events.length;
    await until(
      () => first.events.length > firstAtReturn + 500,
      "priority 1 takes the traffic again",
      10_000_000,
    );
    stream.stop();
    await sink.flush();
    assert.ok(
      second.events.length - secondAtReturn <= 128 * 50,
      "priority 2 took at most what was in flight",
    );
    assert.equal(uniqueTotal(rx), stream.sent);
  },
);

test("behind one address, maxConnectionAgeMs spreads the traffic over a backend added to the balancer", async (t) => {
  const { port, rx } = await receiversOn(t, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  const lb = await roundRobinBalancer(t, [
    { host: "127.0.0.2", port },
    { host: "127.0.0.3", port },
  ]);
  const sinks = Array.from(
    { length: 6 },
    () => new ForwardSink({ ...sinkOptions, port: lb.port, maxConnectionAgeMs: 1000 }),
  );
  t.after(() => Promise.all(sinks.map((s) => s.close({ timeoutMs: 1000 }))).then(() => undefined));
  const streams = sinks.map((s) => steadyStream(s, 5, 10));
  await until(() => rx[0]!.events.length > 0 && rx[1]!.events.length > 0, "both backends in use", 10_000_000);
  lb.backends.push({ host: "127.0.0.4", port });
  await until(
    () => rx[2]!.events.length > 200 && sinks.every((s) => s.stats().servers[0]!.connects >= 2),
    "the added backend takes a share, every sink having recycled its connection",
    10_000_000,
  );
  for (const s of streams) s.stop();
  await Promise.all(sinks.map((s) => s.flush()));
  const sent = streams.reduce((n, s) => n + s.sent, 0);
  const arrived = rx.reduce((n, r) => n + r.events.length, 0);
  // Each sink numbers its events from 0: count events, not ids; acks make re-sends possible only on failure.
  assert.equal(arrived, sent, "every event arrived once");
  assert.equal(
    sinks.reduce((n, s) => n + s.stats().dropped + s.stats().retried, 0),
    0,
  );
});
