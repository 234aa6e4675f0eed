/**
 * A real Fluentd 1.15 (from the peers folder UWSGI_FORWARD_PEERS names) as the receiver of scripts/soak.ts
 * (`SOAK_RECEIVER=fluentd`): in_forward with acks, every event written to a JSON-lines file. It goes down with
 * SIGTERM (Fluentd flushes what it acked, then exits) and comes back on the same port; the count streams the file,
 * which holds millions of lines, and marks each record's `id` in a bitmap as the Node receiver does.
 */
import { createReadStream, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { IdBitmap } from "./id-bitmap.js";
import { freePort } from "../test/helpers/free-port.js";
import { peersDir, PEERS_ENV, startFluentd, type Peer } from "../test/interop/helpers/peers.js";

/** What the receiver counted: every event, the distinct ids, the ids seen again, the connections (0: not known). */
export interface Count {
  events: number;
  unique: number;
  duplicates: number;
  connections: number;
}

/** How long the events file must stay the same size before it is counted: Fluentd flushes every 0.1 s. */
const QUIET_MS = 3000;

export class FluentdReceiver {
  port = 0;
  readonly #workdir = mkdtempSync(path.join(tmpdir(), "soak-fluentd-"));
  readonly #out = path.join(this.#workdir, "events.jsonl");
  #peer: Peer | undefined;

  constructor() {
    if (peersDir() === undefined) {
      throw new Error(`SOAK_RECEIVER=fluentd needs ${PEERS_ENV}=/path/to/shared/peers (after its setup.sh)`);
    }
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.#peer = await startFluentd({ port: this.port, workdir: this.#workdir, out: this.#out });
  }

  async stop(): Promise<void> {
    await this.#peer?.stop("SIGTERM", 30_000);
    this.#peer = undefined;
  }

  /** Waits until Fluentd has written everything it took (the file stops growing), then counts the ids in it. */
  async count(): Promise<Count> {
    let size = -1;
    let since = Date.now();
    for (;;) {
      const now = existsSync(this.#out) ? statSync(this.#out).size : 0;
      if (now !== size) {
        size = now;
        since = Date.now();
      } else if (Date.now() - since >= QUIET_MS) break;
      await sleep(200);
    }
    const ids = new IdBitmap();
    let events = 0;
    if (size > 0) {
      const lines = createInterface({ input: createReadStream(this.#out), crlfDelay: Infinity });
      for await (const line of lines) {
        const id = /"id":(\d+)/.exec(line)?.[1];
        if (id === undefined) continue;
        events++;
        ids.mark(Number(id));
      }
    }
    return { events, unique: ids.unique, duplicates: ids.duplicates, connections: 0 };
  }

  kill(): void {
    void this.#peer?.stop("SIGTERM");
  }
}
