import { test } from "node:test";
import { freePort } from "../helpers/free-port.js";
import { killRuns, type KillServer } from "../helpers/disk-buffer-kills.js";
import { peerTempDir, settledOutput, skipWithoutPeers, startFluentd, type Peer } from "./helpers/peers.js";

/** A real Fluentd 1.15 (acks), stopped with SIGTERM for the kills with the server down, restarted on its port and workdir. */
async function fluentd(
  t: Parameters<typeof peerTempDir>[0] & { after: (fn: () => void) => void },
): Promise<KillServer> {
  const port = await freePort();
  const workdir = peerTempDir(t);
  let peer: Peer | undefined = await startFluentd({ port, workdir });
  const out = peer.out;
  t.after(() => void peer?.stop());
  return {
    port,
    stop: async () => {
      await peer?.stop("SIGTERM");
      peer = undefined;
    },
    start: async () => {
      peer = await startFluentd({ port, workdir });
    },
    counts: async (expectedAtLeast) => {
      const seen = new Map<number, number>();
      for (const e of await settledOutput([out], expectedAtLeast, 1500)) {
        if (e._tag === "kill.test" && typeof e.seq === "number") seen.set(e.seq, (seen.get(e.seq) ?? 0) + 1);
      }
      return seen;
    },
  };
}

test(
  'Fluentd, durability "event": an app SIGKILLed at 10 random points (Fluentd down at 3 of them) and restarted on its bufferPath: every event whose send() returned arrives',
  { skip: skipWithoutPeers() },
  async (t) => {
    const { lost, duplicates, bound } = await killRuns(
      t,
      await fluentd(t),
      "event",
      10,
      31,
      (i) => i % 3 === 1,
    );
    t.diagnostic(`lost ${lost}, duplicates ${duplicates} (bound ${bound})`);
  },
);

test(
  'Fluentd, durability "frame": an app SIGKILLed at 10 random points (Fluentd down at 3 of them): at most the open batch lost per kill, duplicates only from frames in flight',
  { skip: skipWithoutPeers() },
  async (t) => {
    const { lost, duplicates, bound } = await killRuns(
      t,
      await fluentd(t),
      "frame",
      10,
      32,
      (i) => i % 3 === 1,
    );
    t.diagnostic(`lost ${lost}, duplicates ${duplicates} (bound ${bound})`);
  },
);
