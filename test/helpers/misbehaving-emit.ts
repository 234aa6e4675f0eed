/**
 * Drives a ForwardSink like an application in the fault suite: numbered records (`id` counts up, so a
 * receiver can tell duplicates and gaps), emitted as fast as the sink allows.
 */
import { once } from "node:events";
import { setImmediate as yieldToIo } from "node:timers/promises";
import type { ForwardSink, SinkStats } from "../../src/forward/index.js";

/** The record with id `id`: about 100 bytes as msgpack. */
export function numbered(id: number): { id: number; msg: string; host: string; level: string } {
  return { id, msg: "GET /api/v1/items 200 in 12 ms", host: "web-1.example", level: "info" };
}

/** Tag of every fault-suite event. */
export const FAULT_TAG = "faults.app";

/**
 * Emits ids `from` (inclusive) to `to` (exclusive), yielding to I/O every `every` events and waiting for
 * `drain` whenever `emit` asks the caller to slow down (unless `ignoreBackpressure`). Returns how many
 * emits returned false.
 */
export async function emitIds(
  sink: ForwardSink,
  from: number,
  to: number,
  { every = 500, ignoreBackpressure = false }: { every?: number; ignoreBackpressure?: boolean } = {},
): Promise<number> {
  let refused = 0;
  for (let id = from; id < to; id++) {
    const ok = sink.send(FAULT_TAG, numbered(id));
    if (!ok) {
      refused++;
      if (!ignoreBackpressure) {
        await once(sink, "drain");
        continue;
      }
    }
    if ((id - from) % every === every - 1) await yieldToIo();
  }
  return refused;
}

/** Collects every `serverError` code and `drop` count of a sink, and fails on any `error`. */
export function watch(sink: ForwardSink): { codes: string[]; dropped: number; errors: Error[] } {
  const seen = { codes: [] as string[], dropped: 0, errors: [] as Error[] };
  sink.on("serverError", (err: Error & { code?: string }) => seen.codes.push(err.code ?? "?"));
  sink.on("drop", (info: { count: number }) => (seen.dropped += info.count));
  sink.on("error", (err: Error) => seen.errors.push(err));
  return seen;
}

/** Events written to servers and not yet acknowledged. */
export function unacked(stats: SinkStats): number {
  return stats.sent + stats.retried - stats.acked;
}
