import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ForwardSink, type AckInfo, type ForwardSinkOptions, type ServerStats } from "../../src/index.js";
import { skipWithoutDnsmasq, startDnsmasq } from "../helpers/dnsmasq.js";
import { freePort } from "../helpers/free-port.js";
import { roundRobinBalancer } from "../helpers/tcp-balancer.js";
import {
  peerTempDir,
  readEvents,
  settledEvents,
  skipWithoutPeers,
  startFluentd,
  waitForEvents,
  type Peer,
} from "./helpers/peers.js";

const skip = skipWithoutPeers() || skipWithoutDnsmasq();
const REFRESH_MS = 2000;

/** Real Fluentd on each of `binds`, all on one port, each with its own events file; stopped after the test. */
async function fluentdOn(t: TestContext, binds: string[]): Promise<{ port: number; peers: Peer[] }> {
  const port = await freePort();
  const dir = peerTempDir(t);
  const peers = await Promise.all(
    binds.map((bind) => startFluentd({ port, bind, workdir: path.join(dir, bind) })),
  );
  t.after(() => Promise.all(peers.map((p) => p.stop())).then(() => undefined));
  return { port, peers };
}

/** Sends `{ seq }` events, `perTick` every 10 ms, until stopped. */
function steadyStream(sink: ForwardSink, tag: string, perTick = 20) {
  let seq = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) sink.send(tag, { seq: seq++ });
  }, 10);
  return {
    get sent() {
      return seq;
    },
    stop: () => clearInterval(timer),
  };
}

const count = (peer: Peer): number => readEvents(peer.out).length;
const byAddress = (servers: ServerStats[], address: string) => servers.find((s) => s.address === address);

async function within(ms: number, what: string, done: () => boolean): Promise<number> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
  return Date.now() - start;
}

const ackOptions: ForwardSinkOptions = {
  requireAck: true,
  batch: { maxEvents: 100, maxDelayMs: 20 },
  reconnect: { minDelayMs: 200, maxDelayMs: 2000 },
};

test(
  "one name, three real Fluentd behind it in a real DNS server: an added address takes traffic within refreshMs + 1 s, a removed one gets nothing after, an even split, nothing lost",
  { skip },
  async (t) => {
    const { port, peers } = await fluentdOn(t, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    const [a, b, c] = peers as [Peer, Peer, Peer];
    const dns = await startDnsmasq(t, { "aggregators.test": ["127.0.0.2", "127.0.0.3"] });
    const sink = new ForwardSink({
      ...ackOptions,
      servers: [{ host: "aggregators.test", port }],
      dns: { servers: [dns.server], refreshMs: REFRESH_MS },
    });
    t.after(() => sink.close({ timeoutMs: 2000 }));
    const stream = steadyStream(sink, "interop.tier");
    await waitForEvents(a.out, (e) => e.length > 0);
    await waitForEvents(b.out, (e) => e.length > 0);

    await dns.setHosts({ "aggregators.test": ["127.0.0.2", "127.0.0.3", "127.0.0.4"] });
    const addedIn = await within(REFRESH_MS + 1000, "the added address takes traffic", () =>
      Boolean(byAddress(sink.stats().servers, "127.0.0.4")?.settledFrames),
    );
    // The split while all three are in: the events each Fluentd acknowledged over 4 s. Read from the acks, not from
    // the events files: a Fluentd that lags in writing its file (under load) would skew a window of file counts.
    await sleep(500);
    const acked = new Map<string | undefined, number>();
    const onAck = (info: AckInfo): void => {
      acked.set(info.server.address, (acked.get(info.server.address) ?? 0) + info.events);
    };
    sink.on("ack", onAck);
    await sleep(4000);
    sink.off("ack", onAck);
    const shares = ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map((address) => acked.get(address) ?? 0);
    const total = shares.reduce((x, y) => x + y, 0);
    const percents = shares.map((n) => Math.round((1000 * n) / total) / 10);

    await dns.setHosts({ "aggregators.test": ["127.0.0.3", "127.0.0.4"] });
    const removedAt = Date.now();
    await sleep(REFRESH_MS + 1000);
    const leftIn = Date.now() - removedAt;
    await sleep(500); // Fluentd writes its events file every 0.1 s
    const atDeadline = count(a);
    await sleep(3000);
    stream.stop();
    await sink.flush();
    const events = [...(await settledEvents(b.out, 1000)), ...readEvents(c.out), ...readEvents(a.out)];
    const seqs = new Set(events.map((e) => e.seq));
    const stats = sink.stats();
    console.log(
      `added address took traffic after ${addedIn} ms; split ${percents.join("/")} %; removed address drained, ` +
        `checked ${leftIn} ms after; ${stream.sent} sent, ${seqs.size} arrived, ${events.length - seqs.size} duplicates`,
    );
    assert.equal(count(a), atDeadline, "no event reached the removed address after refreshMs + 1 s");
    for (const p of percents) assert.ok(Math.abs(p - 100 / 3) <= 10, `split ${percents.join("/")} %`);
    assert.equal(seqs.size, stream.sent, "nothing lost");
    assert.ok(events.length - seqs.size <= stats.retried, "duplicates are at most what was re-sent");
    assert.equal(stats.dropped, 0);
  },
);

test(
  "SRV against real Fluentd: the priority-2 target takes traffic only while the priority-1 target is down",
  { skip },
  async (t) => {
    const { port, peers } = await fluentdOn(t, ["127.0.0.2", "127.0.0.3"]);
    let [first] = peers as [Peer, Peer];
    const second = peers[1]!;
    const dns = await startDnsmasq(t, { "one.test": ["127.0.0.2"], "two.test": ["127.0.0.3"] }, [
      { name: "_fluentd._tcp.aggregators.test", target: "one.test", port, priority: 1, weight: 10 },
      { name: "_fluentd._tcp.aggregators.test", target: "two.test", port, priority: 2, weight: 10 },
    ]);
    const sink = new ForwardSink({
      ...ackOptions,
      servers: [{ srv: "_fluentd._tcp.aggregators.test" }],
      dns: { servers: [dns.server] },
    });
    t.after(() => sink.close({ timeoutMs: 2000 }));
    const stream = steadyStream(sink, "interop.srv", 5);
    await waitForEvents(first.out, (e) => e.length > 200);
    assert.equal(count(second), 0, "priority 2 is idle while priority 1 is up");
    await first.stop("SIGKILL");
    await waitForEvents(second.out, (e) => e.length > 200);
    first = await startFluentd({ port, bind: "127.0.0.2", workdir: path.join(first.workdir, "again") });
    t.after(() => first.stop());
    await within(
      30_000,
      "priority 1 is back",
      () => sink.stats().servers.find((s) => s.tier === 0)?.state === "up",
    );
    await sleep(500);
    const secondAtReturn = count(second);
    await waitForEvents(first.out, (e) => e.length > 200);
    await sleep(1000);
    stream.stop();
    await sink.flush();
    assert.ok(
      count(second) - secondAtReturn <= 128 * 100,
      "priority 2 got at most what was in flight when 1 returned",
    );
  },
);

test(
  "behind one address (a TCP load balancer), a Fluentd added reaches its share within two maxConnectionAgeMs, nothing lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const AGE_MS = 3000;
    const { port, peers } = await fluentdOn(t, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    const lb = await roundRobinBalancer(t, [
      { host: "127.0.0.2", port },
      { host: "127.0.0.3", port },
    ]);
    const sinks = Array.from(
      { length: 6 },
      () => new ForwardSink({ ...ackOptions, port: lb.port, maxConnectionAgeMs: AGE_MS }),
    );
    t.after(() => Promise.all(sinks.map((s) => s.close({ timeoutMs: 2000 }))).then(() => undefined));
    const streams = sinks.map((s, i) => steadyStream(s, `interop.lb.s${i}`, 4));
    await waitForEvents(peers[1]!.out, (e) => e.length > 100);
    lb.backends.push({ host: "127.0.0.4", port });
    await sleep(2 * AGE_MS);
    const before = peers.map(count);
    await sleep(3000);
    const got = peers.map((p, i) => count(p) - before[i]!);
    const share = (100 * got[2]!) / got.reduce((x, y) => x + y, 0);
    for (const s of streams) s.stop();
    await Promise.all(sinks.map((s) => s.flush()));
    await sleep(1000);
    const arrived = peers.reduce((n, p) => n + count(p), 0);
    const sent = streams.reduce((n, s) => n + s.sent, 0);
    console.log(
      `added backend's share two ages after: ${share.toFixed(1)} %; ${sent} sent, ${arrived} arrived`,
    );
    assert.ok(share >= 100 / 3 - 10, `the added Fluentd took ${share.toFixed(1)} %`);
    assert.ok(arrived >= sent, "nothing lost");
    assert.equal(
      sinks.reduce((n, s) => n + s.stats().dropped, 0),
      0,
    );
  },
);

test(
  "a frozen Fluentd (SIGSTOP), acks off: noticed by heartbeat within its timeout, its traffic moves to the other server, and after SIGCONT nothing is lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const HEARTBEAT = { intervalMs: 1000, timeoutMs: 5000 };
    const { port, peers } = await fluentdOn(t, ["127.0.0.2", "127.0.0.3"]);
    const [frozen, other] = peers as [Peer, Peer];
    const sink = new ForwardSink({
      servers: [
        { host: "127.0.0.2", port },
        { host: "127.0.0.3", port },
      ],
      heartbeat: HEARTBEAT,
      batch: { maxEvents: 200, maxDelayMs: 20 },
      reconnect: { minDelayMs: 500, maxDelayMs: 5000 },
    });
    t.after(() => sink.close({ timeoutMs: 2000 }));
    const codes: string[] = [];
    sink.on("serverError", (err, server) => codes.push(`${server.address} ${err.code}`));
    const stream = steadyStream(sink, "interop.freeze", 60);
    await waitForEvents(frozen.out, (e) => e.length > 1000);
    frozen.signal("SIGSTOP");
    const stoppedAt = Date.now();
    const detectedIn = await within(
      HEARTBEAT.timeoutMs + HEARTBEAT.intervalMs + 1000,
      "the freeze is noticed",
      () => codes.length > 0,
    );
    const state = sink.stats().servers.find((s) => s.address === "127.0.0.2")?.state;
    const frozenSentAtDetection = sink.stats().servers.find((s) => s.address === "127.0.0.2")!.sentFrames;
    await sleep(2000);
    const frozenSentLater = sink.stats().servers.find((s) => s.address === "127.0.0.2")!.sentFrames;
    frozen.signal("SIGCONT");
    await sleep(1000);
    stream.stop();
    await sink.flush();
    await settledEvents(frozen.out, 1000);
    const seqs = new Set([...readEvents(frozen.out), ...readEvents(other.out)].map((e) => e.seq));
    const lost = stream.sent - seqs.size;
    console.log(
      `frozen: ${codes.join(", ")} ${detectedIn} ms after the check began (${Date.now() - stoppedAt} ms in all); ` +
        `state ${state}; ${stream.sent} sent, ${lost} lost`,
    );
    assert.deepEqual(codes, ["127.0.0.2 FORWARD_HEARTBEAT_TIMEOUT"], "reported once");
    assert.equal(state, "stalled");
    assert.equal(
      frozenSentLater,
      frozenSentAtDetection,
      "no frame went to the frozen server once it was noticed",
    );
    assert.equal(lost, 0, "what the frozen server's kernel held was read after SIGCONT");
    assert.equal(
      sink.stats().servers.find((s) => s.address === "127.0.0.2")?.state,
      "up",
      "it is back in rotation",
    );
  },
);
