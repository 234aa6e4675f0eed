import type { ForwardCloseTimeoutError, ForwardError } from "./errors.js";
import type { ServerInfo, ServerStats } from "./server-pool.js";

/** Why events were dropped: `overflow` (buffer limit), `closed` (emitted after close, or undelivered at close). */
export type DropReason = "overflow" | "closed";

/** Payload of the `drop` event. Drops are coalesced: one event per reason per tick. */
export interface DropInfo {
  count: number;
  reason: DropReason;
}

/** Payload of the `ack` event (only with `requireAck`). */
export interface AckInfo {
  server: ServerInfo;
  /** The chunk id that was acknowledged. */
  chunk: string;
  /** Events in the acknowledged frame. */
  events: number;
  /** Time from write to ack. */
  latencyMs: number;
}

/** Figures returned by `sink.stats()`. Event counts unless named otherwise. */
export interface SinkStats {
  /** Events accepted by `emit()` / `write()`. */
  emitted: number;
  /** Events written to a server for the first time. */
  sent: number;
  /** Events acknowledged by a server (`requireAck` only). */
  acked: number;
  /** Events written again after an ack timeout, a disconnect or a failover. */
  retried: number;
  /** Events dropped (overflow policy, emitted after close, undelivered at close). */
  dropped: number;
  /** Bytes held: open batches plus frames not yet acknowledged (or written, without acks). */
  bufferedBytes: number;
  /** Events held, as above. */
  bufferedEvents: number;
  /** Frames not yet acknowledged / written. */
  bufferedFrames: number;
  /** Per server: health, last error, connects, ack latency. */
  servers: ServerStats[];
}

/** What `close()` could not do. */
export interface CloseReport {
  /** True when every emitted event was delivered (acknowledged, or written without acks). */
  delivered: boolean;
  /** True when `timeoutMs` passed before everything was delivered. */
  timedOut: boolean;
  /** Events that were never delivered (now dropped). */
  undeliveredEvents: number;
  /** Frames that were never delivered. */
  undeliveredFrames: number;
  /** Bytes that were never delivered. */
  undeliveredBytes: number;
  /** `FORWARD_CLOSE_TIMEOUT` when something was left undelivered. */
  error: ForwardCloseTimeoutError | undefined;
}

/** Options of `sink.close()`. */
export interface CloseOptions {
  /** Longest time to wait for the buffer to drain before giving up. Default `10000` ms. */
  timeoutMs?: number;
}

/**
 * The events of a ForwardSink and their listener signatures (`sink.on(name, listener)` is typed by this map).
 * Besides these, Node's Writable events (`finish`, `pipe`, `unpipe`) keep their usual meaning.
 */
export interface ForwardSinkEvents {
  /** A connection to `server` is established (handshake included) and takes frames. */
  connect: (server: ServerInfo) => void;
  /** A connection that was up ended; `reason` is undefined for an expected close (ours, or `keepalive: false`). */
  disconnect: (server: ServerInfo, reason: Error | undefined) => void;
  /** A recoverable transport or auth problem (stable `code`); reported once per server until it is healthy again. */
  serverError: (error: ForwardError, server: ServerInfo) => void;
  /** A frame was acknowledged (`requireAck` only). */
  ack: (info: AckInfo) => void;
  /** Events were dropped (overflow policy or close); coalesced per reason per tick. */
  drop: (info: DropInfo) => void;
  /** A `flush()` call completed. */
  flush: () => void;
  /** `emit()` returned false earlier and the buffer is below half its limit again (also Writable's drain). */
  drain: () => void;
  /** Fatal to the stream only: a malformed item written through the Writable interface. Never a server problem. */
  error: (error: Error) => void;
  /** The sink is closed (after `close()` or `destroy()`). */
  close: () => void;
}
