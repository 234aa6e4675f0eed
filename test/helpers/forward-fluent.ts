import type net from "node:net";
import { FluentServer, type FluentServerOptions } from "@fluent-org/logger";

/** An entry as `FluentServer` hands it over, with its EventTime flattened for assertions. */
export interface FluentEntry {
  tag: string;
  time: { seconds: number; nanoseconds: number } | number;
  record: Record<string, unknown>;
}

/**
 * A running `@fluent-org/logger` FluentServer (a real Forward input: handshake, TLS, acks) that records what it
 * receives: the test suite's one such peer (cli-receiver.ts gives it the sidecar tests' options).
 */
export interface FluentPeer {
  server: FluentServer;
  port: number;
  entries: FluentEntry[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves once `n` entries arrived. */
  waitFor(n: number): Promise<void>;
  /** Resolves once `predicate` holds for the entries (checked on every arrival); rejects after `timeoutMs`. */
  waitUntil(predicate: (entries: FluentEntry[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves once `n` connections were accepted; rejects after `timeoutMs`. */
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  /** Stops it (idempotent). */
  close(): Promise<void>;
}

/** Starts a FluentServer on 127.0.0.1:0 (or a unix socket with `listenOptions.path`). */
export async function startFluentServer(options: FluentServerOptions = {}): Promise<FluentPeer> {
  const server = new FluentServer({ listenOptions: { port: 0, host: "127.0.0.1" }, ...options });
  const entries: FluentEntry[] = [];
  let connections = 0;
  const checks = new Set<() => void>();
  const recheck = (): void => {
    for (const check of [...checks]) check();
  };
  server.on("entry", (tag: string, time: unknown, record: Record<string, unknown>) => {
    const t = time as { epoch?: number; nano?: number } | number;
    entries.push({
      tag,
      time: typeof t === "number" ? t : { seconds: t.epoch!, nanoseconds: t.nano! },
      record,
    });
    recheck();
  });
  (server as unknown as { server: net.Server }).server.on("connection", () => {
    connections++;
    recheck();
  });
  const until = (done: () => boolean, what: () => string, timeoutMs?: number): Promise<void> => {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              checks.delete(check);
              reject(new Error(`timed out waiting for ${what()}`));
            }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        checks.delete(check);
        resolve();
      };
      checks.add(check);
    });
  };
  await server.listen();
  let closed: Promise<void> | undefined;
  return {
    server,
    port: server.port ?? 0,
    entries,
    get connections() {
      return connections;
    },
    waitFor: (n) =>
      until(
        () => entries.length >= n,
        () => `${n} entries; received ${entries.length}`,
      ),
    waitUntil: (predicate, what, timeoutMs = 20_000) =>
      until(
        () => predicate(entries),
        () => `${what}; received ${entries.length} events`,
        timeoutMs,
      ),
    waitForConnections: (n, timeoutMs = 20_000) =>
      until(
        () => connections >= n,
        () => `${n} connections; got ${connections}`,
        timeoutMs,
      ),
    close: () => (closed ??= server.close()),
  };
}
