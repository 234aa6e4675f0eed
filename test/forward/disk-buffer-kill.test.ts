import test from "node:test";
import { startFluentServer, type FluentPeer } from "../helpers/forward-fluent.js";
import { killRuns, type KillServer } from "../helpers/disk-buffer-kills.js";

/** The in-process FluentServer of @fluent-org/logger (acks), counting seqs; restarted on the same port. */
async function fluentServer(t: { after: (fn: () => Promise<void>) => void }): Promise<KillServer> {
  const seen = new Map<number, number>();
  const listen = async (port = 0): Promise<FluentPeer> => {
    const peer = await startFluentServer({ listenOptions: { port, host: "127.0.0.1" } });
    peer.server.on("entry", (_tag: string, _time: unknown, record: { seq: number }) =>
      seen.set(record.seq, (seen.get(record.seq) ?? 0) + 1),
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
    counts: () => Promise.resolve(seen),
  };
}

test('durability "frame": SIGKILLed at random points and restarted, a producer loses at most its open batch, and duplicates only what was in flight', async (t) => {
  await killRuns(t, await fluentServer(t), "frame", 5, 22, (i) => i % 3 === 2);
});

test('durability "event": SIGKILLed at random points and restarted, every event whose send() returned arrives', async (t) => {
  await killRuns(t, await fluentServer(t), "event", 5, 23, (i) => i % 3 === 2);
});
