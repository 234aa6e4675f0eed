import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { closeSink } from "./helpers/close.js";
import {
  settledOutput,
  skipWithoutPeers,
  startFluentd,
  type FluentdOptions,
  fluentdForTest,
} from "./helpers/peers.js";
import { FAULT_STREAM, faultSink, restartMidStream, type RestartedServer } from "./helpers/restart.js";
import { pump, tally, until } from "./helpers/stream.js";

const { total: TOTAL, perSecond: RATE, cutAt: CUT_AT, eventsPerFrame: EVENTS_PER_FRAME } = FAULT_STREAM;

/** A Fluentd with `options`, restarted on the same port and workdir after the cut. */
function fluentd(options: Partial<FluentdOptions>): RestartedServer {
  return {
    start: (port, workdir) => startFluentd({ port, workdir, ...options }),
    outputHasTags: true,
    settleMs: 1500,
  };
}

test(
  "Fluentd killed with SIGKILL mid-stream (file buffer) and restarted on the same port: 0 lost, duplicates only from frames in flight at the cut",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, inFlightFrames, undelivered } = await restartMidStream(
      t,
      "SIGKILL",
      fluentd({ fileBuffer: true }),
    );
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(
      counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME,
      `${counted.duplicated} duplicates > ${inFlightFrames} frames in flight at the cut`,
    );
  },
);

test(
  "Fluentd stopped with SIGTERM mid-stream and restarted on the same port: 0 lost, duplicates only from frames in flight at the cut",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, inFlightFrames, undelivered } = await restartMidStream(t, "SIGTERM", fluentd({}));
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME);
  },
);

test(
  "Fluentd killed with SIGKILL with its default memory buffer: what it lost had all been acknowledged (measured, for docs/interop.md)",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, undelivered, ackedEvents } = await restartMidStream(t, "SIGKILL", fluentd({}));
    assert.equal(undelivered, 0);
    // Acks come in order on one connection, so the acknowledged events are seqs 0..acked-1: every later one arrived.
    const lastLost = counted.lostSeqs.length ? Math.max(...counted.lostSeqs) : -1;
    assert.ok(lastLost < ackedEvents, `seq ${lastLost} lost although never acknowledged`);
  },
);

test(
  "Fluentd frozen (SIGSTOP) past the ack timeout, then resumed (SIGCONT): 0 lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const fluentd = await fluentdForTest(t);
    const { port } = fluentd;
    const sink = faultSink(port, { ackTimeoutMs: 1500 });
    const timeouts: string[] = [];
    sink.on("serverError", (err) => timeouts.push(err.code));
    const tag = "interop.fault.sigstop";
    const stream = pump(sink, tag, TOTAL, RATE);
    await until(() => stream.sent() >= CUT_AT);
    fluentd.signal("SIGSTOP");
    await sleep(4000);
    fluentd.signal("SIGCONT");
    await stream.done;
    const { undelivered } = await closeSink(sink, 60_000);
    const counted = tally(await settledOutput([fluentd.out], TOTAL, 1500), tag, TOTAL);
    t.diagnostic(
      JSON.stringify({
        frozenMs: 4000,
        ackTimeoutMs: 1500,
        errors: timeouts,
        retried: sink.stats().retried,
        undelivered,
        ...counted,
        counts: undefined,
      }),
    );
    assert.ok(
      timeouts.includes("FORWARD_ACK_TIMEOUT"),
      `the freeze outlasted the ack timeout: ${timeouts.join(",")}`,
    );
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
  },
);
