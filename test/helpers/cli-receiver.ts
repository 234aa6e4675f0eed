import type net from "node:net";
import type { TlsOptions } from "node:tls";
import { FluentServer } from "@fluent-org/logger";

/** One event as a FluentServer received it. */
export interface ReceivedEvent {
  tag: string;
  time: unknown;
  record: Record<string, unknown>;
}

/** A Forward-protocol receiver on 127.0.0.1 port 0 that records every event, for CLI and example tests. */
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
 * Starts a FluentServer on 127.0.0.1 port 0 (or a unix socket `path`), optionally with a shared key, users and
 * TLS options, and closes it after the test.
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
  const server = new FluentServer({
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
  const events: ReceivedEvent[] = [];
  const waiters = new Set<() => void>();
  server.on("entry", (tag: string, time: unknown, record: Record<string, unknown>) => {
    events.push({ tag, time, record });
    for (const waiter of [...waiters]) waiter();
  });
  let connections = 0;
  const connectionWaiters = new Set<() => void>();
  (server as unknown as { server: net.Server }).server.on("connection", () => {
    connections++;
    for (const waiter of [...connectionWaiters]) waiter();
  });
  await server.listen();
  let closed = false;
  const receiver: CliReceiver = {
    port: server.port as number,
    events,
    get connections() {
      return connections;
    },
    waitForConnections(n, timeoutMs = 20_000) {
      if (connections >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          connectionWaiters.delete(check);
          reject(new Error(`timed out waiting for ${n} connections; got ${connections}`));
        }, timeoutMs);
        const check = (): void => {
          if (connections < n) return;
          clearTimeout(timer);
          connectionWaiters.delete(check);
          resolve();
        };
        connectionWaiters.add(check);
      });
    },
    waitFor(predicate, what, timeoutMs = 20_000) {
      if (predicate(events)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; received ${events.length} events`));
        }, timeoutMs);
        const check = (): void => {
          if (!predicate(events)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
  t.after(() => receiver.close());
  return receiver;
}
