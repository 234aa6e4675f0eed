import type { Readable } from "node:stream";
import type { ForwardBufferWriteError, ForwardCloseTimeoutError, ForwardError } from "./errors.js";
import type { ServerInfo, ServerStats } from "./servers/server-pool.js";

/**
 * Why events were dropped. Refused at the door (never accepted): `overflow` (the buffer was full: `dropNewest`, or
 * `send()` past the limit under `block`), `closed` (sent after `close()`). Dropped after being accepted: `evicted`
 * (`dropOldest` made room by dropping the oldest frames not yet sent), `undelivered` (still buffered when `close()`
 * gave up or `destroy()` was called; with `bufferPath`, only those that could not be kept on disk), `damaged` (read
 * back from a `bufferPath` file whose record was torn or corrupt: skipped at replay).
 */
export type DropReason = "overflow" | "closed" | "evicted" | "undelivered" | "damaged";

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

/**
 * Figures returned by `sink.stats()`. Event counts unless named otherwise. At every moment, under every overflow
 * policy: `accepted + replayed = (requireAck ? acked : sent) + bufferedEvents + droppedBy.evicted +
 * droppedBy.undelivered + droppedBy.damaged` (events kept on disk at close stay in `bufferedEvents`).
 */
export interface SinkStats {
  /** Events taken into the buffer by `send()` / `write()` (refused ones are not: see `droppedBy`). */
  accepted: number;
  /**
   * Events found in `bufferPath` at start, left unsettled by the previous sink on the directory (those of damaged
   * records included: they are also in `droppedBy.damaged`).
   */
  replayed: number;
  /** Records of `bufferPath` skipped at start because they were torn or corrupt (their events: `droppedBy.damaged`). */
  damagedRecords: number;
  /** Events whose frame a socket took in full (handed to the kernel), counted once per event. */
  sent: number;
  /** Events acknowledged by a server (`requireAck` only). */
  acked: number;
  /** Events written again after an ack timeout, a disconnect or a failover. */
  retried: number;
  /** Events dropped, every reason together (the sum of `droppedBy`). */
  dropped: number;
  /** Events dropped, by reason. */
  droppedBy: Record<DropReason, number>;
  /** Bytes held: open batches plus frames not yet acknowledged (or written, without acks). */
  bufferedBytes: number;
  /** Events held, as above. */
  bufferedEvents: number;
  /** Frames not yet acknowledged / written. */
  bufferedFrames: number;
  /** Per server: health, last error, connects, ack latency. */
  servers: ServerStats[];
}

/** What `close()` knows of the fate of the events (counts over the sink's whole life). */
export interface CloseReport {
  /** Events handed to a socket in full (the kernel took them: not proof that the server has them). */
  written: number;
  /** Events a server acknowledged; `undefined` without `requireAck` (nothing is known beyond `written`). */
  acknowledged: number | undefined;
  /**
   * True only with `requireAck`, when acks confirmed every event ever passed to `send()`/`write()` (none dropped).
   * Without acks it is always false: a written event may still be lost by a server that never read it.
   */
  delivered: boolean;
  /** True when `timeoutMs` passed before everything was delivered. */
  timedOut: boolean;
  /** Events that were never delivered (dropped, except those kept on disk: `keptEvents`). */
  undeliveredEvents: number;
  /** Of those, events kept in `bufferPath` for the next sink on the directory (0 without `bufferPath`). */
  keptEvents: number;
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
 * The events of a ForwardSink and their listener signatures: `sink.on(name, listener)` accepts these names only, so
 * a misspelt event name is a compile error. Node's Writable events (`finish`, `pipe`, `unpipe`) keep their meaning.
 */
export interface ForwardSinkEvents {
  /** A connection to `server` is established (handshake included) and takes frames. */
  connect: (server: ServerInfo) => void;
  /** A connection that was up ended; `reason` is undefined for an expected close (ours, or `keepalive: false`). */
  disconnect: (server: ServerInfo, reason: Error | undefined) => void;
  /**
   * A recoverable transport or auth problem (stable `code`): reported when a fault starts and when its code changes,
   * not on every reconnect; repeats are counted in `stats().servers[i].repeatedErrors`.
   */
  serverError: (error: ForwardError, server: ServerInfo) => void;
  /**
   * Writing the disk buffer (`bufferPath`) failed (`FORWARD_BUFFER_WRITE`, the system error as `cause`): new frames
   * stay in memory until a write succeeds again. Once per failure, not per frame.
   */
  bufferError: (error: ForwardBufferWriteError) => void;
  /** A frame was acknowledged (`requireAck` only). */
  ack: (info: AckInfo) => void;
  /** Events were dropped (overflow policy or close); coalesced per reason per tick. */
  drop: (info: DropInfo) => void;
  /** A `flush()` call completed. */
  flush: () => void;
  /** `send()` returned false earlier and the buffer is below half its limit again (also Writable's drain). */
  drain: () => void;
  /** Fatal to the stream only: a malformed item written through the Writable interface. Never a server problem. */
  error: (error: Error) => void;
  /** The sink is closed (after `close()` or `destroy()`). */
  close: () => void;
  /** Writable: `end()` was called and every item was taken. */
  finish: () => void;
  /** Writable: a Readable was piped into the sink. */
  pipe: (source: Readable) => void;
  /** Writable: a Readable was unpiped from the sink. */
  unpipe: (source: Readable) => void;
}
