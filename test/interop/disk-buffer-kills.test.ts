import { test } from "node:test";
import { startCliUwsgi } from "../helpers/cli-uwsgi.js";
import { appProcess } from "../helpers/disk-buffer-app.js";
import { killRuns, type KillFigures, type KillServer } from "../helpers/disk-buffer-kills.js";
import { sidecarProcess } from "../helpers/disk-buffer-sidecar.js";
import { freePort } from "../helpers/free-port.js";
import { UWSGI_MISSING } from "../helpers/uwsgi-installed.js";
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
    received: (expectedAtLeast) => settledOutput([out], expectedAtLeast, 1500),
  };
}

/** The figures of a kill run, as a test diagnostic. */
function figures({ lost, mostLostAtAKill, lossBound, duplicates, duplicateBound }: KillFigures): string {
  return `lost ${lost} (bound ${lossBound}; at most ${mostLostAtAKill} at a kill), duplicates ${duplicates} (bound ${duplicateBound})`;
}

const KILLS = 20;
/** Fluentd is down at 7 of the 20 kills, and back after the restart. */
const down = (i: number): boolean => i % 3 === 1;

test(
  'Fluentd, durability "event": an app SIGKILLed at 20 random points (Fluentd down at 7 of them) and restarted on its bufferPath: every event whose send() returned arrives',
  { skip: skipWithoutPeers() },
  async (t) => {
    const server = await fluentd(t);
    t.diagnostic(figures(await killRuns(t, server, appProcess(server.port, "event"), KILLS, 31, down)));
  },
);

test(
  'Fluentd, durability "frame": an app SIGKILLed at 20 random points (Fluentd down at 7 of them): what is lost was in the open batch at a kill, duplicates only from frames in flight',
  { skip: skipWithoutPeers() },
  async (t) => {
    const server = await fluentd(t);
    t.diagnostic(figures(await killRuns(t, server, appProcess(server.port, "frame"), KILLS, 32, down)));
  },
);

test(
  'Fluentd, durability "event": the sidecar SIGKILLed at 20 random points (Fluentd down at 7 of them) and restarted on its --buffer-path: every record of a poll it had handed to the sink arrives',
  { skip: skipWithoutPeers() || (UWSGI_MISSING ?? false) },
  async (t) => {
    const server = await fluentd(t);
    const uwsgi = await startCliUwsgi(t);
    const sidecar = sidecarProcess(t, server.port, uwsgi.stats, "event");
    t.diagnostic(figures(await killRuns(t, server, sidecar, KILLS, 33, down)));
  },
);

test(
  'Fluentd, durability "frame": the sidecar SIGKILLed at 20 random points (Fluentd down at 7 of them): what is lost was in the open batches at a kill, duplicates only from frames in flight',
  { skip: skipWithoutPeers() || (UWSGI_MISSING ?? false) },
  async (t) => {
    const server = await fluentd(t);
    const uwsgi = await startCliUwsgi(t);
    const sidecar = sidecarProcess(t, server.port, uwsgi.stats, "frame");
    t.diagnostic(figures(await killRuns(t, server, sidecar, KILLS, 34, down)));
  },
);
