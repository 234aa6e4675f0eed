import { test } from "node:test";
import assert from "node:assert/strict";
import { ForwardSink } from "../../src/index.js";
import { freePort } from "../helpers/forward-receiver.js";
import { closeSink } from "./helpers/close.js";
import { peerTempDir, settledOutput, skipWithoutPeers, startFluentBit } from "./helpers/peers.js";
import { nextCut, pump, tally, until } from "./helpers/stream.js";

const TOTAL = 40_000;
const RATE = 12_000;
const CUT_AT = 15_000;
const EVENTS_PER_FRAME = 100;

/**
 * Streams TOTAL events to a real Fluent Bit, stops it with `signal` after CUT_AT, restarts it on the same port,
 * workdir and events file, and counts every seq in its output.
 */
async function restartMidStream(
  t: { after: (fn: () => void) => void; diagnostic: (msg: string) => void },
  signal: NodeJS.Signals,
) {
  const port = await freePort();
  const workdir = peerTempDir(t);
  // in_forward's records printed as they are (no stream task: its copies made during shutdown are never printed).
  const first = await startFluentBit({ port, workdir, plainOutput: true });
  let current = first;
  t.after(() => void current.stop());
  const sink = new ForwardSink({
    host: "127.0.0.1",
    port,
    requireAck: true,
    ackTimeoutMs: 5000,
    batch: { maxEvents: EVENTS_PER_FRAME, maxDelayMs: 20 },
    reconnect: { minDelayMs: 200, maxDelayMs: 1000 },
  });
  const tag = `interop.fault.${signal.toLowerCase()}`;
  const stream = pump(sink, tag, TOTAL, RATE);
  await until(() => stream.sent() >= CUT_AT);
  const cut = nextCut(sink, `127.0.0.1:${port}`);
  const started = Date.now();
  await first.stop(signal);
  const { inFlightFrames, ackedEvents } = await cut;
  current = await startFluentBit({ port, workdir, plainOutput: true });
  const downMs = Date.now() - started;
  await stream.done;
  const { undelivered } = await closeSink(sink, 60_000);
  const counted = tally(await settledOutput([current.out], TOTAL, 3000), undefined, TOTAL);
  const figures = {
    signal,
    downMs,
    inFlightFrames,
    ackedEvents,
    retried: sink.stats().retried,
    undelivered,
    total: counted.total,
    arrived: counted.arrived,
    duplicated: counted.duplicated,
    lost: counted.lost,
    lostSeqs: counted.lostSeqs,
  };
  t.diagnostic(JSON.stringify(figures));
  return { counted, figures, undelivered };
}

test(
  "Fluent Bit killed with SIGKILL mid-stream and restarted: it loses only what it had acknowledged, the sink re-sends every unacknowledged event",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, figures, undelivered } = await restartMidStream(t, "SIGKILL");
    assert.equal(undelivered, 0);
    // Acks come in order on one connection, so the acknowledged events are seqs 0..acked-1: every later seq was
    // unacknowledged at the cut, was re-sent, and must be in the output.
    const lastLost = counted.lostSeqs.length ? Math.max(...counted.lostSeqs) : -1;
    assert.ok(lastLost < figures.ackedEvents, `seq ${lastLost} lost although never acknowledged`);
    assert.ok(counted.duplicated <= figures.inFlightFrames * EVENTS_PER_FRAME);
  },
);

test(
  "Fluent Bit stopped with SIGTERM mid-stream and restarted: 0 lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, figures, undelivered } = await restartMidStream(t, "SIGTERM");
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(counted.duplicated <= figures.inFlightFrames * EVENTS_PER_FRAME);
  },
);
