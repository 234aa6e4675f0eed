import test from "node:test";
import { startFluentServer, type FluentPeer } from "../helpers/forward-fluent.js";
import { appProcess } from "../helpers/disk-buffer-app.js";
import { killRuns, type KillServer } from "../helpers/disk-buffer-kills.js";

/** The in-process FluentServer of @fluent-org/logger (acks), keeping what it receives; restarted on the same port. */
async function fluentServer(t: { after: (fn: () => Promise<void>) => void }): Promise<KillServer> {
  const received: Record<string, unknown>[] = [];
  const listen = async (port = 0): Promise<FluentPeer> => {
    const peer = await startFluentServer({ listenOptions: { port, host: "127.0.0.1" } });
    peer.server.on("entry", (tag: string, _time: unknown, record: Record<string, unknown>) =>
      received.push({ _tag: tag, ...record }),
    );
    return peer;
  };
  let peer: FluentPeer | undefined = await listen();
  const port = peer.port;
  t.after(async () => peer?.close());
  return {
    port,
    stop: async () => {
      await peer?.close();
      peer = undefined;
    },
    start: async () => {
      peer = await listen(port);
    },
    received: () => Promise.resolve(received),
  };
}

test('durability "frame": SIGKILLed at random points and restarted, a producer loses at most its open batch, and duplicates only what was in flight', async (t) => {
  const server = await fluentServer(t);
  await killRuns(t, server, appProcess(server.port, "frame"), 5, 22, (i) => i % 3 === 2);
});

test('durability "event": SIGKILLed at random points and restarted, every event whose send() returned arrives', async (t) => {
  const server = await fluentServer(t);
  await killRuns(t, server, appProcess(server.port, "event"), 5, 23, (i) => i % 3 === 2);
});
