import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "node:test";
import { crc32 } from "node:zlib";
import { newFrame, type Frame } from "../../src/forward/batching/frame.js";
import type { ForwardBufferWriteError } from "../../src/forward/errors.js";
import { DiskFrameStore, RETRY_MS, type DiskStoreHooks } from "../../src/forward/store/disk-store.js";
import { RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE } from "../../src/forward/store/segment-format.js";
import { cliTempDir } from "../helpers/cli-temp.js";

/** What the store reported through its hooks. */
interface Seen {
  damagedEvents: number;
  damagedRecords: number;
  failures: ForwardBufferWriteError[];
  now: number;
}

function open(
  dir: string,
  options: { requireAck?: boolean; memoryLimit?: number; diskLimit?: number } = {},
): { store: DiskFrameStore; seen: Seen } {
  const seen: Seen = { damagedEvents: 0, damagedRecords: 0, failures: [], now: 0 };
  const hooks: DiskStoreHooks = {
    letGo: () => {},
    damaged: (events, records) => {
      seen.damagedEvents += events;
      seen.damagedRecords += records;
    },
    failed: (err) => seen.failures.push(err),
    now: () => seen.now,
  };
  const store = new DiskFrameStore(
    { path: dir, durability: "frame", fsync: false, limitBytes: options.diskLimit ?? 1 << 30 },
    options.memoryLimit ?? 1 << 26,
    options.requireAck ?? false,
    hooks,
  );
  return { store, seen };
}

let seq = 0;
const TAG = Buffer.from("app.test");
/** A frame of `size` bytes whose bytes say which frame it is (`label` repeated). */
function frame(label: number, events: number, size = 64, chunk?: string): Frame {
  return newFrame(++seq, { bytes: Buffer.alloc(size, label), events, tag: TAG, chunk, backing: undefined });
}

/** The labels of the frames a store holds, in queue order, their bytes read back. */
function drain(store: DiskFrameStore): number[] {
  const labels: number[] = [];
  for (let f = store.peek(); f !== undefined; f = store.peek()) {
    store.shift();
    labels.push(f.bytes[0]!);
    assert.ok(
      f.bytes.every((b) => b === f.bytes[0]),
      "the frame's bytes came back intact",
    );
    store.settle(f);
  }
  return labels;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".seg"));
}

/** Writes frames 1..n (label i, i events, 40 + i bytes) and closes the store, keeping them on disk. */
function writeFrames(dir: string, n: number): void {
  const { store } = open(dir);
  for (let i = 1; i <= n; i++) store.add(frame(i, i, 40 + i));
  assert.equal(store.close(), (n * (n + 1)) / 2);
}

/** A segment holding frames 1, 2, 3 (see `writeFrames`), to damage in copies: its name and bytes, and a base dir. */
function threeFrameSegment(t: { after: (fn: () => void) => void }): {
  base: string;
  name: string;
  bytes: Buffer;
} {
  const base = cliTempDir(t, "disk-store-");
  const source = path.join(base, "source");
  mkdirSync(source);
  writeFrames(source, 3);
  const name = segments(source)[0]!;
  return { base, name, bytes: readFileSync(path.join(source, name)) };
}

test("frames kept at close are replayed by the next store, oldest first, and none of them twice", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  writeFrames(dir, 5);
  const { store } = open(dir);
  assert.equal(store.frameCount, 5);
  assert.equal(store.frameEvents, 15);
  assert.deepEqual(drain(store), [1, 2, 3, 4, 5]);
  store.close();
  const { store: again } = open(dir);
  assert.equal(again.frameCount, 0, "settled frames are not replayed");
  again.close();
  assert.deepEqual(segments(dir), [], "a fully settled segment is deleted");
});

test("the settle log keeps settled frames from being replayed even when their segment is not finished", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const { store } = open(dir);
  const frames = [frame(1, 1), frame(2, 1), frame(3, 1)];
  for (const f of frames) store.add(f);
  store.shift();
  store.settle(frames[0]!);
  store.shift();
  // Frame 2 is in flight (written, no ack) at the "kill": the store is simply abandoned, its lock left behind.
  writeFileSync(path.join(dir, "lock"), "999999999\n");
  const { store: next } = open(dir);
  assert.deepEqual(drain(next), [2, 3], "what was in flight is sent again; what was settled is not");
  next.close();
  store.close();
});

test("a torn last record, cut at every byte offset, loses only that record and counts it", (t) => {
  const { base, name, bytes } = threeFrameSegment(t);
  const lastLength = RECORD_HEADER_SIZE + 1 + 2 + TAG.length + 43;
  const lastStart = bytes.length - lastLength;
  for (let cut = lastStart; cut < bytes.length; cut++) {
    const dir = path.join(base, `cut-${cut}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, name), bytes.subarray(0, cut));
    const { store, seen } = open(dir);
    assert.deepEqual(drain(store), [1, 2], `cut at ${cut}: the intact frames replay`);
    const torn = cut > lastStart;
    assert.equal(seen.damagedRecords, torn ? 1 : 0, `cut at ${cut}: the torn record is counted`);
    // Its 3 events are known once the header (and its checksum) survived.
    assert.equal(seen.damagedEvents, cut - lastStart >= 16 ? 3 : 0, `cut at ${cut}: events counted`);
    store.close();
  }
});

test("a flipped byte in a frame's payload loses that frame only; one in its header is skipped past", (t) => {
  const { base, name, bytes } = threeFrameSegment(t);
  const second = SEGMENT_HEADER_SIZE + RECORD_HEADER_SIZE + 1 + 2 + TAG.length + 41;
  for (const [where, at, events] of [
    ["payload", second + RECORD_HEADER_SIZE + 20, 2],
    ["header", second + 6, 0],
  ] as const) {
    const dir = path.join(base, where);
    mkdirSync(dir);
    const damaged = Buffer.from(bytes);
    damaged[at]! ^= 0x40;
    writeFileSync(path.join(dir, name), damaged);
    const { store, seen } = open(dir);
    assert.deepEqual(drain(store), [1, 3], `${where}: the frames around it replay`);
    assert.equal(seen.damagedRecords, 1);
    assert.equal(seen.damagedEvents, events);
    store.close();
  }
});

test("a torn settle record is ignored (its frame is sent again) and later settlements stay readable", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  writeFrames(dir, 3);
  const settleLog = path.join(dir, segments(dir)[0]!.replace(".seg", ".settled"));
  appendFileSync(settleLog, Buffer.from([0, 0, 0]));
  const { store } = open(dir);
  const first = store.peek()!;
  store.shift();
  store.settle(first);
  store.close();
  const { store: next } = open(dir);
  assert.deepEqual(drain(next), [2, 3]);
  next.close();
});

test("a segment of an unknown format version is refused with FORWARD_BUFFER_FORMAT, not read", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  writeFrames(dir, 1);
  const file = path.join(dir, segments(dir)[0]!);
  const bytes = readFileSync(file);
  bytes.writeUInt16BE(2, 8);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, 12)), 12); // what a release writing version 2 would write
  writeFileSync(file, bytes);
  assert.throws(() => open(dir), { code: "FORWARD_BUFFER_FORMAT", message: /version 2/ });
  assert.ok(existsSync(file), "the file is left alone");
  assert.ok(!existsSync(path.join(dir, "lock")), "the lock is released");
});

test("frames written with acks are refused by a store without acks, naming requireAck", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const { store } = open(dir, { requireAck: true });
  store.add(frame(1, 1, 64, "AAAAAAAAAAAAAAAAAAAAAA=="));
  store.close();
  assert.throws(() => open(dir), { code: "FORWARD_BUFFER_FORMAT", message: /requireAck: true/ });
  const { store: withAcks } = open(dir, { requireAck: true });
  const replayed = withAcks.peek()!;
  assert.equal(replayed.chunk, "AAAAAAAAAAAAAAAAAAAAAA==", "the chunk id is kept");
  withAcks.close();
});

test("a second store on a directory in use is refused with FORWARD_BUFFER_LOCKED naming the pid", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const { store } = open(dir);
  assert.throws(() => open(dir), { code: "FORWARD_BUFFER_LOCKED", pid: process.pid });
  store.close();
  open(dir).store.close();
});

test("a lock held by another live process is refused; one left by a process that is gone is taken over", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const parentPid = process.ppid; // the test runner: alive while the test runs
  writeFileSync(path.join(dir, "lock"), `${parentPid}\n`);
  assert.throws(
    () => open(dir),
    (err: { code: string; pid: number; message: string }) => {
      assert.equal(err.code, "FORWARD_BUFFER_LOCKED");
      assert.equal(err.pid, parentPid);
      assert.match(err.message, new RegExp(`pid ${parentPid}`));
      return true;
    },
  );
  const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  writeFileSync(path.join(dir, "lock"), `${gone.stdout}\n`);
  const { store } = open(dir);
  assert.match(readFileSync(path.join(dir, "lock"), "utf8"), new RegExp(`^${process.pid}\n\\d+\n$`));
  store.close();
});

test("a lock naming this pid is refused when this process wrote it (another thread), taken over when an earlier process did", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  // What a sink in another worker thread of this process writes: our pid and our start time.
  const started = Math.round(Date.now() - process.uptime() * 1000);
  writeFileSync(path.join(dir, "lock"), `${process.pid}\n${started}\n`);
  assert.throws(() => open(dir), { code: "FORWARD_BUFFER_LOCKED", pid: process.pid });
  // Our pid, but a start time an hour earlier: a process before this one that had the same pid (a container's pid 1).
  writeFileSync(path.join(dir, "lock"), `${process.pid}\n${started - 3_600_000}\n`);
  open(dir).store.close();
});

test("a bufferPath that is a file, or cannot be created, is refused at construction naming bufferPath", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const file = path.join(dir, "a-file");
  writeFileSync(file, "");
  assert.throws(() => open(file), {
    code: "FORWARD_BUFFER_PATH",
    message: /bufferPath ".*a-file" is not a directory/,
  });
  assert.throws(() => open(path.join(file, "buffer")), {
    code: "FORWARD_BUFFER_PATH",
    message: /bufferPath ".*a-file\/buffer" cannot be created as a directory: ENOTDIR/,
  });
});

test("past the memory limit, frames keep only their place on disk and are read back when they are sent", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  const { store } = open(dir, { memoryLimit: 1000 });
  const frames: Frame[] = [];
  for (let i = 1; i <= 50; i++) {
    const f = frame(i, 1, 100);
    frames.push(f);
    store.add(f);
  }
  const inMemory = frames.filter((f) => f.bytes.length > 0).length;
  assert.ok(inMemory <= 10, `at most the memory limit stays in memory (${inMemory} frames of 100 bytes)`);
  assert.equal(store.frameBytes, 5000, "every frame still counts against the disk limit");
  assert.deepEqual(
    drain(store),
    frames.map((_, i) => i + 1),
  );
  store.close();
});

test("ENOSPC: one failure reported, new frames stay in memory, and the disk is used again once it has room", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "disk-store-enospc-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  t.after(() => {
    if (mounted.status === 0) spawnSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  if (mounted.status !== 0) {
    t.skip("cannot mount a 64 KiB tmpfs here (needs root): ENOSPC not exercised");
    return;
  }
  const { store, seen } = open(dir, { memoryLimit: 1 << 20 });
  const frames: Frame[] = [];
  for (let i = 0; i < 40; i++) {
    const f = frame(i % 250, 1, 4096);
    frames.push(f);
    store.add(f);
  }
  assert.equal(seen.failures.length, 1, "one report for the whole failure");
  assert.equal(seen.failures[0]!.code, "FORWARD_BUFFER_WRITE");
  assert.equal((seen.failures[0]!.cause as NodeJS.ErrnoException).code, "ENOSPC");
  assert.equal(store.frameCount, 40, "no frame lost: the ones the disk refused are in memory");
  assert.equal(store.limitBytes, 1 << 20, "while the disk fails, the memory limit applies");
  assert.deepEqual(
    drain(store),
    frames.map((f) => f.bytes[0]),
  );
  assert.deepEqual(segments(dir), [], "settled segments are deleted, freeing the disk");
  seen.now += RETRY_MS;
  store.add(frame(7, 1, 4096));
  assert.equal(segments(dir).length, 1, "the next frame goes to disk again");
  assert.equal(store.limitBytes, 1 << 30);
  assert.equal(seen.failures.length, 1);
  store.close();
  const { store: next } = open(dir);
  assert.deepEqual(drain(next), [7]);
  next.close();
});

test("a truncated settle log still lets the segment be replayed (nothing thrown)", (t) => {
  const dir = cliTempDir(t, "disk-store-");
  writeFrames(dir, 2);
  const log = path.join(dir, segments(dir)[0]!.replace(".seg", ".settled"));
  writeFileSync(log, Buffer.alloc(5));
  truncateSync(log, 3);
  const { store } = open(dir);
  assert.deepEqual(drain(store), [1, 2]);
  store.close();
});
