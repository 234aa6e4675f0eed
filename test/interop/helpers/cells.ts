import assert from "node:assert/strict";
import { EventTime, ForwardSink, type ForwardMode, type ForwardSinkOptions } from "../../../src/index.js";
import { closeSink } from "./close.js";

/** The four event modes of Forward v1, each a column of the matrix. */
export const MODES: readonly ForwardMode[] = [
  "Message",
  "Forward",
  "PackedForward",
  "CompressedPackedForward",
];

/** Which server's events file a cell reads: Fluentd keeps nanoseconds in `_time`, Fluent Bit microseconds in `_date`. */
export type ServerKind = "fluentd" | "fluent-bit";

/** One event a cell sends and expects back. */
export interface CellEvent {
  record: Record<string, unknown>;
  time: EventTime;
}

const SECOND = 1_700_000_000;

/**
 * The events every cell sends: one per record shape (strings with non-ASCII text, negative and large integers,
 * floats, booleans, null, arrays, nested maps), each with its own EventTime whose nanoseconds are not a whole
 * number of microseconds, so a server that rounded or dropped them would be caught.
 */
export function cellEvents(): CellEvent[] {
  const records: Record<string, unknown>[] = [
    { seq: 0, msg: "plain ascii" },
    { seq: 1, msg: "héllo wörld ✓ 日本語", empty: "" },
    { seq: 2, neg: -42, big: 4_294_967_296, f: 1.5, t: true, no: false, nothing: null },
    { seq: 3, arr: [1, "two", [3], { four: 4 }], map: { k: "v", deep: { x: 1 } } },
    { seq: 4, msg: "x".repeat(2000) },
  ];
  return records.map((record, i) => ({
    record,
    time: new EventTime(SECOND + i, [123_456_789, 999_999_999, 1, 500_000_500, 987_654_321][i]!),
  }));
}

/** The ISO string of `time` to the precision `kind` keeps: nanoseconds (Fluentd) or truncated microseconds (Fluent Bit). */
export function isoTime(time: EventTime, kind: ServerKind): string {
  const base = new Date(time.seconds * 1000).toISOString().slice(0, 19);
  const ns = String(time.nanoseconds).padStart(9, "0");
  return `${base}.${kind === "fluentd" ? ns : ns.slice(0, 6)}Z`;
}

/** What one cell's sink did. */
export interface CellRun {
  tag: string;
  undelivered: number;
  retried: number;
  errors: string[];
}

/**
 * Sends the cell's events with one sink of `options` under `tag`, closes it (waiting up to `closeTimeoutMs` for the
 * server to take or acknowledge them) and reports what it did.
 */
export async function runCell(
  tag: string,
  options: ForwardSinkOptions,
  closeTimeoutMs = 30_000,
): Promise<CellRun> {
  const sink = new ForwardSink({ batch: { maxEvents: 2 }, connectTimeoutMs: 10_000, ...options });
  const errors: string[] = [];
  sink.on("serverError", (err) => errors.push(`${err.code}: ${err.message}`));
  for (const { record, time } of cellEvents()) sink.send(tag, record, time);
  const { undelivered } = await closeSink(sink, closeTimeoutMs);
  return { tag, undelivered, retried: sink.stats().retried, errors };
}

/**
 * Asserts, from a server's events file, that every event of the cell arrived exactly once under `tag`, with its
 * record unchanged and its EventTime to the precision the server keeps.
 */
export function assertCellArrived(events: Record<string, unknown>[], tag: string, kind: ServerKind): void {
  const mine = events.filter((e) => e._tag === tag);
  const expected = cellEvents();
  assert.equal(mine.length, expected.length, `${tag}: ${mine.length} events in the server's output`);
  for (const { record, time } of expected) {
    const got = mine.filter((e) => e.seq === record.seq);
    assert.equal(got.length, 1, `${tag}: event seq ${String(record.seq)} arrived ${got.length} times`);
    const { _tag, _time, _date, ...rest } = got[0]!;
    assert.deepEqual(rest, record, `${tag}: record of seq ${String(record.seq)}`);
    assert.equal(
      kind === "fluentd" ? _time : _date,
      isoTime(time, kind),
      `${tag}: time of seq ${String(record.seq)}`,
    );
    void _tag;
  }
}
