import { FluentServer, type FluentServerOptions } from "@fluent-org/logger";

/** An entry as `FluentServer` hands it over, with its EventTime flattened for assertions. */
export interface FluentEntry {
  tag: string;
  time: { seconds: number; nanoseconds: number } | number;
  record: Record<string, unknown>;
}

/** A running `@fluent-org/logger` FluentServer that records what it receives. */
export interface FluentPeer {
  server: FluentServer;
  port: number;
  entries: FluentEntry[];
  /** Resolves once `n` entries arrived. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a FluentServer on 127.0.0.1:0 (or a unix socket with `listenOptions.path`). */
export async function startFluentServer(options: FluentServerOptions = {}): Promise<FluentPeer> {
  const server = new FluentServer({ listenOptions: { port: 0, host: "127.0.0.1" }, ...options });
  const entries: FluentEntry[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  server.on("entry", (tag: string, time: unknown, record: Record<string, unknown>) => {
    const t = time as { epoch?: number; nano?: number } | number;
    entries.push({
      tag,
      time: typeof t === "number" ? t : { seconds: t.epoch!, nanoseconds: t.nano! },
      record,
    });
    waiters = waiters.filter((w) => (entries.length >= w.n ? (w.resolve(), false) : true));
  });
  await server.listen();
  return {
    server,
    port: server.port ?? 0,
    entries,
    waitFor: (n) =>
      entries.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    close: () => server.close(),
  };
}
