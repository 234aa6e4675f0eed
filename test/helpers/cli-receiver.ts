import type { TlsOptions } from "node:tls";
import { startFluentServer, type FluentEntry } from "./forward-fluent.js";

/** One event as the FluentServer received it. */
export type ReceivedEvent = FluentEntry;

/** The FluentServer peer (forward-fluent.ts) as the sidecar and example tests use it. */
export interface CliReceiver {
  readonly port: number;
  readonly events: ReceivedEvent[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves once `n` connections have been accepted. */
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `predicate` holds for the received events (checked on every arrival). */
  waitFor(predicate: (events: ReceivedEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts forward-fluent.ts's FluentServer on 127.0.0.1 port 0 (or a unix socket `path`), optionally with a shared
 * key, users and TLS options, and closes it after the test.
 */
export async function startCliReceiver(
  t: { after: (fn: () => Promise<void>) => void },
  options: {
    sharedKey?: string;
    users?: Record<string, string>;
    tls?: TlsOptions;
    path?: string;
    keepalive?: boolean;
    /** A port of 127.0.0.1 to listen on (default: port 0, a free one). */
    port?: number;
  } = {},
): Promise<CliReceiver> {
  const peer = await startFluentServer({
    listenOptions: options.path ? { path: options.path } : { port: options.port ?? 0, host: "127.0.0.1" },
    ...(options.sharedKey
      ? {
          security: {
            serverHostname: "receiver",
            sharedKey: options.sharedKey,
            authorize: options.users !== undefined,
            userDict: options.users ?? {},
          },
        }
      : {}),
    ...(options.tls ? { tlsOptions: options.tls } : {}),
    ...(options.keepalive === undefined ? {} : { keepalive: options.keepalive }),
  });
  t.after(() => peer.close());
  return {
    port: peer.port,
    events: peer.entries,
    get connections() {
      return peer.connections;
    },
    waitForConnections: peer.waitForConnections,
    waitFor: peer.waitUntil,
    close: peer.close,
  };
}
