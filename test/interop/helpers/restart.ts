/**
 * The restart faults, one procedure for Fluentd and Fluent Bit: a paced stream of sequence-numbered events with acks,
 * the server stopped by a signal part-way, restarted on the same port and workdir, and every seq counted in its
 * output.
 */
import { ForwardSink } from "../../../src/index.js";
import { freePort } from "../../helpers/forward-receiver.js";
import { closeSink } from "./close.js";
import { peerTempDir, settledOutput, type Peer } from "./peers.js";
import { nextCut, pump, tally, until, type Tally } from "./stream.js";

/** The stream every fault test sends: `total` events at `perSecond`, cut after `cutAt`, `eventsPerFrame` a frame. */
export const FAULT_STREAM = { total: 40_000, perSecond: 12_000, cutAt: 15_000, eventsPerFrame: 100 } as const;

/** A sink for the fault stream: acks on, a 5 s ack timeout, small frames, quick reconnects. */
export function faultSink(port: number, extra: Partial<ConstructorParameters<typeof ForwardSink>[0]> = {}) {
  return new ForwardSink({
    host: "127.0.0.1",
    port,
    requireAck: true,
    ackTimeoutMs: 5000,
    batch: { maxEvents: FAULT_STREAM.eventsPerFrame, maxDelayMs: 20 },
    reconnect: { minDelayMs: 200, maxDelayMs: 1000 },
    ...extra,
  });
}

/** How one server is started (the first time and again after the cut) and how its output is read. */
export interface RestartedServer {
  start(port: number, workdir: string): Promise<Peer>;
  /** False for an output that prints records without their tag: every event counts. */
  outputHasTags: boolean;
  /** How long the output must stay unchanged before it is read (the server writes asynchronously). */
  settleMs: number;
}

/** What a restart fault measured: the cut, what the sink did about it, and what came out of the server. */
export interface RestartFigures {
  signal: NodeJS.Signals;
  downMs: number;
  /** Frames written to the server and not acknowledged when it went away. */
  inFlightFrames: number;
  /** Events acknowledged when it went away: seqs 0..ackedEvents-1, as acks come in order on one connection. */
  ackedEvents: number;
  retried: number;
  undelivered: number;
  counted: Tally;
}

/** Streams FAULT_STREAM to `server`, stops it with `signal` after `cutAt`, restarts it, and counts its output. */
export async function restartMidStream(
  t: Parameters<typeof peerTempDir>[0] & {
    after: (fn: () => void) => void;
    diagnostic: (msg: string) => void;
  },
  signal: NodeJS.Signals,
  server: RestartedServer,
): Promise<RestartFigures> {
  const { total, perSecond, cutAt } = FAULT_STREAM;
  const port = await freePort();
  const workdir = peerTempDir(t);
  const first = await server.start(port, workdir);
  let current = first;
  t.after(() => void current.stop());
  const sink = faultSink(port);
  const tag = `interop.fault.${signal.toLowerCase()}`;
  const stream = pump(sink, tag, total, perSecond);
  await until(() => stream.sent() >= cutAt);
  const cut = nextCut(sink, `127.0.0.1:${port}`);
  const started = Date.now();
  await first.stop(signal);
  const { inFlightFrames, ackedEvents } = await cut;
  current = await server.start(port, workdir);
  const downMs = Date.now() - started;
  await stream.done;
  const { undelivered } = await closeSink(sink, 60_000);
  const output = await settledOutput([current.out], total, server.settleMs);
  const counted = tally(output, server.outputHasTags ? tag : undefined, total);
  const figures = {
    signal,
    downMs,
    inFlightFrames,
    ackedEvents,
    retried: sink.stats().retried,
    undelivered,
    counted,
  };
  t.diagnostic(JSON.stringify({ ...figures, counted: { ...counted, counts: undefined } }));
  return figures;
}
