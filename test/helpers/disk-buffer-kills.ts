/**
 * Kill runs of a process that sends through a ForwardSink with `bufferPath`: SIGKILLed at seeded random points,
 * restarted on the same directory, then drained; checks what the server got for loss and duplicates. The process is
 * any `KillProcess` (an app, test/helpers/disk-buffer-app.ts; the sidecar, test/helpers/disk-buffer-sidecar.ts), the
 * server any `KillServer` (the in-process FluentServer for the unit suite, a real Fluentd for the interop suite).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { cliTempDir } from "./cli-temp.js";

/** The server the process sends to, as the kill runs drive it. */
export interface KillServer {
  readonly port: number;
  /** Goes down (connections cut, nothing listening), for a kill with the server down. */
  stop(): Promise<void>;
  /** Comes back on the same port. */
  start(): Promise<void>;
  /**
   * Every record received, its tag as `_tag` (and its time as `_time` where the server writes one), once at least
   * `expectedAtLeast` have arrived (or arrivals stopped).
   */
  received(expectedAtLeast: number): Promise<Record<string, unknown>[]>;
}

/** What a run had reported when it was killed. */
export interface KillReport {
  /**
   * The units whose `send()` had returned (the app: each seq; the sidecar: each poll, by its records' time), each
   * with its number of records, in the order they were sent.
   */
  readonly returned: ReadonlyMap<string, number>;
  /** Of those, the units that may still have been in an open batch at the kill: what `"frame"` may lose. */
  readonly openBatches: readonly string[];
  /** The most records the kill can make go twice: those of the frames in flight (written, ack not back). */
  readonly duplicateBound: number;
}

/** One start of the process on the directory. */
export interface KillRun {
  /** Progress lines so far: one per chunk of events handed to `send()` (the app) or per poll (the sidecar). */
  readonly reports: number;
  /** Resolves once `n` progress lines have been read. */
  waitReports(n: number): Promise<void>;
  /** SIGKILLs it; resolves once it is gone, with what it had reported. */
  kill(): Promise<KillReport>;
}

/** The process the kill runs SIGKILL, sending with acks through a ForwardSink with `bufferPath`. */
export interface KillProcess {
  readonly durability: "frame" | "event";
  /** Starts it on `dir`; `run` numbers the starts from 0. */
  start(dir: string, run: number): KillRun;
  /** Starts it once more on `dir` and resolves once it has sent what the directory holds and exited cleanly. */
  drain(dir: string): Promise<void>;
  /** The unit a received record belongs to and the record's identity, or undefined for another's record. */
  identify(record: Record<string, unknown>): { unit: string; key: string } | undefined;
}

/** What the kill runs measured. */
export interface KillFigures {
  /** Records whose `send()` had returned and that never arrived. */
  lost: number;
  /** The most lost at one kill. */
  mostLostAtAKill: number;
  /** With `"frame"`: the most the kills may lose (the records of their open batches); 0 with `"event"`. */
  lossBound: number;
  /** Records that arrived more than once (each extra copy counted). */
  duplicates: number;
  /** The most duplicates the kills may cause (the records of the frames in flight at each). */
  duplicateBound: number;
}

/** mulberry32: the kill points are random, but the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Kills and restarts `sender` `kills` times on one directory (the server down at the kills `serverDownAtKill`
 * names, and back once the next process has started), then drains it; asserts that with `"event"` every record
 * whose send() returned arrived, with `"frame"` that what was lost belonged to the open batches at a kill, and that
 * duplicates stayed within the frames in flight.
 */
export async function killRuns(
  t: { after: (fn: () => void) => void },
  server: KillServer,
  sender: KillProcess,
  kills: number,
  seed: number,
  serverDownAtKill: (i: number) => boolean,
): Promise<KillFigures> {
  const dir = cliTempDir(t, "disk-buffer-kill-");
  const random = seeded(seed);
  const reports: (KillReport & { down: boolean })[] = [];
  let down = false;
  for (let i = 0; i < kills; i++) {
    const run = sender.start(dir, i);
    if (down) {
      // Back after the restart: the new process found the server down, and replays once it is up.
      await server.start();
      down = false;
    }
    await run.waitReports(run.reports + 2 + Math.floor(random() * 30));
    if (serverDownAtKill(i)) {
      await server.stop();
      down = true;
      await run.waitReports(run.reports + 5 + Math.floor(random() * 20));
    }
    reports.push({ ...(await run.kill()), down });
  }
  if (down) await server.start();
  await sender.drain(dir);
  const expected = reports.reduce((sum, r) => sum + [...r.returned.values()].reduce((a, b) => a + b, 0), 0);
  // Per unit, the distinct records that arrived; per record, how many times.
  const units = new Map<string, Set<string>>();
  const copies = new Map<string, number>();
  for (const record of await server.received(expected)) {
    const id = sender.identify(record);
    if (id === undefined) continue;
    let keys = units.get(id.unit);
    if (keys === undefined) units.set(id.unit, (keys = new Set()));
    keys.add(id.key);
    copies.set(id.key, (copies.get(id.key) ?? 0) + 1);
  }
  const figures: KillFigures = {
    lost: 0,
    mostLostAtAKill: 0,
    lossBound: 0,
    duplicates: 0,
    duplicateBound: 0,
  };
  for (const [i, { returned, openBatches, duplicateBound, down }] of reports.entries()) {
    const missing = [...returned].flatMap(([unit, records]) => {
      const short = records - (units.get(unit)?.size ?? 0);
      return short > 0 ? [{ unit, short }] : [];
    });
    const lost = missing.reduce((sum, m) => sum + m.short, 0);
    figures.lost += lost;
    figures.mostLostAtAKill = Math.max(figures.mostLostAtAKill, lost);
    figures.duplicateBound += duplicateBound;
    const where = `kill ${i} (server down: ${down})`;
    if (sender.durability === "event") {
      assert.deepEqual(missing, [], `${where}: every record whose send() returned arrived`);
      continue;
    }
    const open = new Set(openBatches);
    const bound = openBatches.reduce((sum, unit) => sum + (returned.get(unit) ?? 0), 0);
    figures.lossBound += bound;
    assert.deepEqual(
      missing.filter((m) => !open.has(m.unit)),
      [],
      `${where}: only records of the open batches were lost (${openBatches.length} units, ${bound} records)`,
    );
    assert.ok(lost <= bound, `${where}: ${lost} lost, at most the open batches' ${bound} records`);
  }
  for (const n of copies.values()) figures.duplicates += n - 1;
  assert.ok(
    figures.duplicates <= figures.duplicateBound,
    `${figures.duplicates} duplicates, at most the records of the frames in flight at the kills (${figures.duplicateBound})`,
  );
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.endsWith(".seg")),
    [],
    "everything settled: no segment left",
  );
  return figures;
}
