import { test } from "node:test";
import assert from "node:assert/strict";
import { skipWithoutPeers, startFluentBit } from "./helpers/peers.js";
import { FAULT_STREAM, restartMidStream, type RestartedServer } from "./helpers/restart.js";

const { eventsPerFrame: EVENTS_PER_FRAME } = FAULT_STREAM;

/**
 * Fluent Bit printing in_forward's records as they are (no stream task: its copies made during shutdown are never
 * printed), so records carry no tag; it writes its output later than Fluentd.
 */
const fluentBit: RestartedServer = {
  start: (port, workdir) => startFluentBit({ port, workdir, plainOutput: true }),
  outputHasTags: false,
  settleMs: 3000,
};

test(
  "Fluent Bit killed with SIGKILL mid-stream and restarted: it loses only what it had acknowledged, the sink re-sends every unacknowledged event",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, ackedEvents, inFlightFrames, undelivered } = await restartMidStream(
      t,
      "SIGKILL",
      fluentBit,
    );
    assert.equal(undelivered, 0);
    // Acks come in order on one connection, so the acknowledged events are seqs 0..acked-1: every later seq was
    // unacknowledged at the cut, was re-sent, and must be in the output.
    const lastLost = counted.lostSeqs.length ? Math.max(...counted.lostSeqs) : -1;
    assert.ok(lastLost < ackedEvents, `seq ${lastLost} lost although never acknowledged`);
    assert.ok(counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME);
  },
);

test(
  "Fluent Bit stopped with SIGTERM mid-stream and restarted: 0 lost",
  { skip: skipWithoutPeers() },
  async (t) => {
    const { counted, inFlightFrames, undelivered } = await restartMidStream(t, "SIGTERM", fluentBit);
    assert.equal(undelivered, 0);
    assert.equal(counted.lost, 0, `lost seqs ${counted.lostSeqs.join(",")}`);
    assert.ok(counted.duplicated <= inFlightFrames * EVENTS_PER_FRAME);
  },
);
