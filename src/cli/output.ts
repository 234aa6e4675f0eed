import type { Writable } from "node:stream";
import type { EventRecord, ForwardSink } from "../index.js";

/** What closing an output left undelivered, for the exit log line. */
export interface OutputCloseReport {
  readonly undeliveredEvents: number;
  readonly text: string;
}

/**
 * Where the sidecar's items go: a ForwardSink, or stdout with --stdout. The source is piped into
 * `writable`; health records are written to it too.
 */
export interface Output {
  readonly writable: Writable;
  /** The ForwardSink, for its `stats()` and `ack` events (`/metrics`); undefined with --stdout. */
  readonly sink: ForwardSink | undefined;
  /** The output's part of the health record: sent, acked, dropped, buffered bytes, server states. */
  health(): EventRecord;
  /** Resolves once everything written so far is delivered (however long the servers take), or at close. */
  drained(): Promise<void>;
  /** Delivers what is held for up to `timeoutMs`, then closes; never takes longer. */
  close(timeoutMs: number): Promise<OutputCloseReport>;
}

/**
 * The health figures of several outputs as one (the current sink and those a reload retired): numbers are
 * summed, lists (`servers`) joined.
 */
export function mergeOutputHealth(parts: readonly EventRecord[]): EventRecord {
  const merged: EventRecord = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      const before = merged[key];
      if (typeof value === "number") merged[key] = (typeof before === "number" ? before : 0) + value;
      else if (Array.isArray(value)) merged[key] = [...(Array.isArray(before) ? before : []), ...value];
      else merged[key] = value;
    }
  }
  return merged;
}
