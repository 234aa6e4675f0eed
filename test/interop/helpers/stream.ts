import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { ForwardSink } from "../../../src/index.js";

/** A paced stream of events `{ seq }`, seq 0..total-1, one tag: the fault tests count each seq in the server's output. */
export interface Pump {
  /** Events handed to the sink so far. */
  readonly sent: () => number;
  /** Resolves when all `total` events were handed to the sink. */
  readonly done: Promise<void>;
}

/**
 * Sends the events `from`..`total`-1 at about `perSecond` (in 10 ms steps), waiting for `drain` when the sink says
 * slow down.
 */
export function pump(sink: ForwardSink, tag: string, total: number, perSecond: number, from = 0): Pump {
  let seq = from;
  const step = Math.max(1, Math.round(perSecond / 100));
  const done = (async () => {
    const start = Date.now();
    while (seq < total) {
      const due = Math.min(total, from + Math.round(((Date.now() - start) / 1000) * perSecond) + step);
      let writable = true;
      while (seq < due && writable) writable = sink.send(tag, { seq: seq++, pad: "p".repeat(64) });
      if (!writable) await once(sink, "drain");
      else await sleep(10);
    }
  })();
  return { sent: () => seq, done };
}

/** Polls `cond` every 10 ms until it holds. */
export async function until(cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** How the seqs 0..total-1 of `tag` came out of a server (or several): each seen once, twice, or never. */
export interface Tally {
  total: number;
  /** Distinct seqs seen. */
  arrived: number;
  /** Events seen beyond the first of their seq. */
  duplicated: number;
  /** Seqs never seen. */
  lost: number;
  /** The lost seqs (first 20), for the failure message. */
  lostSeqs: number[];
  /** Events per seq, for per-server splits. */
  counts: Uint32Array;
}

/** Counts each seq of `tag` (or of every event, for an output that prints no tag) in one or more servers' outputs. */
export function tally(events: Record<string, unknown>[], tag: string | undefined, total: number): Tally {
  const counts = new Uint32Array(total);
  for (const e of events) {
    if ((tag !== undefined && e._tag !== tag) || typeof e.seq !== "number") continue;
    counts[e.seq]!++;
  }
  let arrived = 0;
  let duplicated = 0;
  const lostSeqs: number[] = [];
  let lost = 0;
  for (let seq = 0; seq < total; seq++) {
    const n = counts[seq]!;
    if (n === 0) {
      lost++;
      if (lostSeqs.length < 20) lostSeqs.push(seq);
    } else {
      arrived++;
      duplicated += n - 1;
    }
  }
  return { total, arrived, duplicated, lost, lostSeqs, counts };
}

/** Seqs of `tag` in one server's output (for the split between balanced servers). */
export function seqsIn(events: Record<string, unknown>[], tag: string): Set<number> {
  const seqs = new Set<number>();
  for (const e of events) if (e._tag === tag && typeof e.seq === "number") seqs.add(e.seq);
  return seqs;
}

/**
 * What the sink had on the wire to one server when that connection went down: frames written and never
 * acknowledged (the only ones the server may have taken without our knowing, hence the bound on duplicates), and
 * events acknowledged so far.
 */
export interface Cut {
  inFlightFrames: number;
  ackedEvents: number;
}

/** Resolves at the next `disconnect` of `serverId` with what was in flight on it. */
export function nextCut(sink: ForwardSink, serverId: string): Promise<Cut> {
  return new Promise((resolve) => {
    const onDisconnect = (server: { id: string }) => {
      if (server.id !== serverId) return;
      sink.off("disconnect", onDisconnect);
      const stats = sink.stats();
      const s = stats.servers.find((x) => x.id === serverId)!;
      resolve({ inFlightFrames: s.sentFrames - s.settledFrames, ackedEvents: stats.acked });
    };
    sink.on("disconnect", onDisconnect);
  });
}
