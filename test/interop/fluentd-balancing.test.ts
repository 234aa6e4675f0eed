import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink } from "../../src/index.js";
import { freePort } from "../helpers/forward-receiver.js";
import { closeSink } from "./helpers/close.js";
import {
  peerTempDir,
  readEvents,
  settledOutput,
  skipWithoutPeers,
  startFluentd,
  type Peer,
} from "./helpers/peers.js";
import { nextCut, pump, seqsIn, tally, until } from "./helpers/stream.js";

const TOTAL = 30_000;
const RATE = 10_000;
const CUT_AT = 12_000;
const EVENTS_PER_FRAME = 100;

const sinkOptions = {
  requireAck: true,
  ackTimeoutMs: 5000,
  batch: { maxEvents: EVENTS_PER_FRAME, maxDelayMs: 20 },
  reconnect: { minDelayMs: 200, maxDelayMs: 1000 },
};

/** A Fluentd with a file buffer (what it acked survives a kill -9), on a port it keeps when restarted. */
interface FileBufferedFluentd {
  readonly port: number;
  /** The process now: `restart()` replaces it. */
  peer: Peer;
  restart(): Promise<Peer>;
}

/** Two file-buffered Fluentd, stopped (whichever process each is then) when the test ends. */
async function twoFluentd(
  t: Parameters<typeof peerTempDir>[0],
): Promise<[FileBufferedFluentd, FileBufferedFluentd]> {
  const one = async (): Promise<FileBufferedFluentd> => {
    const port = await freePort();
    const workdir = peerTempDir(t);
    const server: FileBufferedFluentd = {
      port,
      peer: await startFluentd({ port, workdir, fileBuffer: true }),
      restart: async () => (server.peer = await startFluentd({ port, workdir, fileBuffer: true })),
    };
    return server;
  };
  const pair: [FileBufferedFluentd, FileBufferedFluentd] = [await one(), await one()];
  t.after(() => Promise.all(pair.map((s) => s.peer.stop())));
  return pair;
}

/** Streams seqs 0..total-1 of `tag` and SIGKILLs `victim` once CUT_AT were sent; resolves with the cut. */
async function killMidStream(sink: ForwardSink, tag: string, total: number, victim: FileBufferedFluentd) {
  const stream = pump(sink, tag, total, RATE);
  await until(() => stream.sent() >= CUT_AT);
  const cut = nextCut(sink, `127.0.0.1:${victim.port}`);
  await victim.peer.stop("SIGKILL");
  return { stream, cut: await cut };
}

test(
  "primary and standby Fluentd: the primary is killed and restarted, the standby carries the outage and only it, 0 lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const [primary, standby] = await twoFluentd(t);
    const sink = new ForwardSink({
      ...sinkOptions,
      servers: [
        { host: "127.0.0.1", port: primary.port },
        { host: "127.0.0.1", port: standby.port, standby: true },
      ],
    });
    const tag = "interop.balance.standby";
    const { stream, cut } = await killMidStream(sink, tag, CUT_AT * 2, primary);
    const { ackedEvents, inFlightFrames } = cut;
    await primary.restart();
    await stream.done;
    // Once the primary is up again, the rest of the stream is its alone.
    await until(() => sink.stats().servers[0]!.state === "up");
    const backAt = CUT_AT * 2;
    await pump(sink, tag, TOTAL, RATE, backAt).done;
    const { undelivered } = await closeSink(sink, 60_000);
    await settledOutput([primary.peer.out, standby.peer.out], TOTAL, 1500);
    const onPrimary = readEvents(primary.peer.out);
    const onStandby = readEvents(standby.peer.out);
    const counted = tally([...onPrimary, ...onStandby], tag, TOTAL);
    const standbySeqs = [...seqsIn(onStandby, tag)];
    const primaryAfter = [...seqsIn(onPrimary, tag)].filter((s) => s >= backAt).length;
    t.diagnostic(
      JSON.stringify({
        ackedEvents,
        inFlightFrames,
        onStandby: standbySeqs.length,
        primaryAfterRestart: primaryAfter,
        undelivered,
        arrived: counted.arrived,
        duplicated: counted.duplicated,
        lost: counted.lost,
      }),
    );
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME);
    assert.ok(standbySeqs.length > 0, "the standby carried the outage");
    assert.ok(Math.min(...standbySeqs) >= ackedEvents, "the standby took nothing while the primary was up");
    assert.ok(Math.max(...standbySeqs) < backAt, "the standby took nothing once the primary was back");
    assert.equal(primaryAfter, TOTAL - backAt, "everything after the primary's return went to the primary");
  },
);

test(
  "two weighted Fluentd primaries (1:3): traffic split by weight within 10 %, one killed, 0 lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const [light, heavy] = await twoFluentd(t);
    const sink = new ForwardSink({
      ...sinkOptions,
      servers: [
        { host: "127.0.0.1", port: light.port, weight: 20 },
        { host: "127.0.0.1", port: heavy.port, weight: 60 },
      ],
    });
    const tag = "interop.balance.weighted";
    const { stream, cut } = await killMidStream(sink, tag, TOTAL, light);
    const { inFlightFrames } = cut;
    await stream.done;
    const { undelivered } = await closeSink(sink, 60_000);
    // Restarted only now, on its file buffer, to write out what it had acknowledged before the kill.
    await light.restart();
    await settledOutput([light.peer.out, heavy.peer.out], TOTAL, 1500);
    const onLight = readEvents(light.peer.out);
    const onHeavy = readEvents(heavy.peer.out);
    const counted = tally([...onLight, ...onHeavy], tag, TOTAL);
    const before = (seqs: Set<number>) => [...seqs].filter((s) => s < CUT_AT).length;
    const lightBefore = before(seqsIn(onLight, tag));
    const heavyBefore = before(seqsIn(onHeavy, tag));
    const heavyShare = heavyBefore / (lightBefore + heavyBefore);
    t.diagnostic(
      JSON.stringify({
        lightBefore,
        heavyBefore,
        heavyShare,
        inFlightFrames,
        undelivered,
        arrived: counted.arrived,
        duplicated: counted.duplicated,
        lost: counted.lost,
      }),
    );
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME);
    assert.ok(
      Math.abs(heavyShare - 0.75) <= 0.075,
      `weight 60 of 80 took ${(heavyShare * 100).toFixed(1)} %`,
    );
  },
);
