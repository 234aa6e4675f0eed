/**
 * What a logger transport reported through its `drop`, `serverError` and `error` events, for the logger tests.
 * Both transports (pino's in its worker, winston's ForwardTransport) re-emit the same payloads.
 */
import assert from "node:assert/strict";
import { once, type EventEmitter } from "node:events";

/** Counts and codes a transport reported. */
export interface TransportWatch {
  dropped: Record<string, number>;
  serverErrors: string[];
  errors: Error[];
  /** Resolves once at least one `drop` came. */
  firstDrop: Promise<unknown>;
  /** Resolves once at least one `serverError` came. */
  firstServerError: Promise<unknown>;
}

/** Watches a transport's events from now on. */
export function watchTransport(transport: EventEmitter): TransportWatch {
  const seen: TransportWatch = {
    dropped: {},
    serverErrors: [],
    errors: [],
    firstDrop: once(transport, "drop"),
    firstServerError: once(transport, "serverError"),
  };
  transport.on("drop", (info: { count: number; reason: string }) => {
    seen.dropped[info.reason] = (seen.dropped[info.reason] ?? 0) + info.count;
  });
  transport.on("serverError", (error: { code: string }) => seen.serverErrors.push(error.code));
  transport.on("error", (error: Error) => seen.errors.push(error));
  return seen;
}

/** The numbered log line `i`: the fields every logger test sends and checks. */
export function lineFields(i: number): { id: number; user: string; path: string } {
  return { id: i, user: `u${i % 97}`, path: "/api/v1/items" };
}

/** Ids received, checked to be exactly 0..n-1 once each; returns how many duplicates there were. */
export function duplicates(ids: number[]): number {
  return ids.length - new Set(ids).size;
}

/**
 * The outage both logger tests stage: OUTAGE_LINES numbered lines (about 500 KB) logged while nothing listens, into a
 * 64 KiB buffer that drops the newest; the server starts once the outage was reported and the buffer overflowed.
 */
export const OUTAGE_LINES = 5000;

/** Transport options of the outage: a small buffer, fast reconnects. */
export const OUTAGE_OPTIONS = {
  tag: "outage",
  bufferLimitBytes: 64 * 1024,
  overflow: "dropNewest",
  reconnect: { minDelayMs: 20, maxDelayMs: 100 },
} as const;

/**
 * Keeps the process alive while a test waits on a transport's worker (neither transport's worker keeps a process
 * alive by itself); stop it when the test ends.
 */
export function keepAlive(): () => void {
  const timer = setInterval(() => {}, 1000);
  return () => clearInterval(timer);
}

/** What the outage must end with: every line arrived once or was counted as dropped, and the outage was reported. */
export function assertOutageAccounted(ids: number[], seen: TransportWatch): void {
  const overflowed = seen.dropped.overflow ?? 0;
  assert.ok(overflowed > 0, "the buffer overflowed");
  assert.ok(ids.length > 100, `${ids.length} events arrived from the buffer`);
  assert.equal(ids.length + overflowed, OUTAGE_LINES, "every line either arrived or was counted as dropped");
  assert.equal(duplicates(ids), 0);
  assert.ok(seen.serverErrors.length > 0, "the outage was reported");
}
