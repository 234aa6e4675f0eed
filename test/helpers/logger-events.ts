/**
 * What a logger transport reported through its `drop`, `serverError` and `error` events, for the logger tests.
 * Both transports (pino's in its worker, winston's ForwardTransport) re-emit the same payloads.
 */
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
