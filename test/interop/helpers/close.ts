import type { ForwardSink } from "../../../src/index.js";

/** What the interop tests need from `close()`: how many events the sink could not deliver. */
export interface Closed {
  /** Events still unacknowledged (or unwritten, without acks) when the sink gave up; 0 when all were delivered. */
  undelivered: number;
}

/**
 * Closes `sink` and reduces its close report to what the interop tests assert on. Every use of the close report in
 * test/interop goes through here, so a change of the report's shape is adapted in one place.
 */
export async function closeSink(sink: ForwardSink, timeoutMs: number): Promise<Closed> {
  const report = await sink.close({ timeoutMs });
  return { undelivered: report.undeliveredEvents };
}
