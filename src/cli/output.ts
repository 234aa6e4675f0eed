import type { Writable } from "node:stream";
import type { EventRecord } from "../index.js";

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
  /** The output's part of the health record: sent, acked, dropped, buffered bytes, server states. */
  health(): EventRecord;
  /** Delivers what is held for up to `timeoutMs`, then closes; never takes longer. */
  close(timeoutMs: number): Promise<OutputCloseReport>;
}
