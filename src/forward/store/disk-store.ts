import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
  writevSync,
} from "node:fs";
import path from "node:path";
import { BufferPool } from "../batching/buffer-pool.js";
import { newChunkId, newFrame, type Frame, type MutableFrame } from "../batching/frame.js";
import { encodePackedFrame } from "../protocol/frame-encoder.js";
import { ForwardBufferFormatError, ForwardBufferPathError, ForwardBufferWriteError } from "../errors.js";
import type { ResolvedDiskOptions } from "../options.js";
import { acquireLock } from "./lock.js";
import { MemoryFrameStore } from "./memory-store.js";
import {
  SETTLE_RECORD_SIZE,
  forwardEntry,
  recordHeadSize,
  readSegmentHeader,
  readSettleLog,
  recordIntact,
  scanSegment,
  segmentHeader,
  settleRecord,
  writeEventHead,
  writeFrameHead,
  type ScannedRecord,
} from "./segment-format.js";

/** A segment grows to about this size, then the next frame starts a new one. */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
/** After a failed write, the disk is tried again at the first seal this long after. */
export const RETRY_MS = 1000;
const EMPTY = Buffer.alloc(0);
const SEGMENT_NAME = /^(\d{16})\.seg$/;

/** What the disk store tells the sink. */
export interface DiskStoreHooks {
  /** The store lets go of a frame's bytes (kept on disk only): its batch buffer may carry the next batch. */
  letGo(frame: Frame): void;
  /** Records of the files were torn or corrupt: `events` events (of the records whose header survived) are lost. */
  damaged(events: number, records: number): void;
  /** Writing failed (once per failure): new frames stay in memory until a write succeeds again. */
  failed(error: ForwardBufferWriteError): void;
  /** Milliseconds on a monotonic clock; default `performance.now()`. */
  now?: () => number;
}

/** One segment file and its settle log. */
interface Segment {
  readonly id: number;
  readonly file: string;
  readonly settleFile: string;
  /** Open for appending frames: only the segment being written. */
  fd: number | undefined;
  /** Bytes written (where the next record goes). */
  size: number;
  /** Frames of this segment not settled yet. */
  unsettled: number;
  /** `durability: "event"`: events written here whose frame is not written yet. */
  openEvents: number;
  settleFd: number | undefined;
}

/** `durability: "event"`: a run of a tag's events written to one segment and not yet in a written frame. */
interface EventRun {
  segment: Segment;
  count: number;
}

/** Where a frame's record lies. */
interface Place {
  segment: Segment;
  offset: number;
  length: number;
}

/**
 * The frame store with `bufferPath`: the memory store's queue, and every frame also in append-only segment files,
 * its settlement in the segment's settle log; a new store on the directory replays what is unsettled (first, oldest
 * first). At most `memoryLimitBytes` of frame bytes stay in memory: past that a frame keeps only its place in its
 * file and is read back when it reaches the front of the queue. See docs/architecture.md, "The frame store".
 */
export class DiskFrameStore extends MemoryFrameStore {
  readonly #opts: ResolvedDiskOptions;
  readonly #dir: string;
  readonly #memoryLimit: number;
  readonly #acks: boolean;
  readonly #hooks: DiskStoreHooks;
  readonly #now: () => number;
  readonly #release: () => void;
  readonly #places = new Map<Frame, Place>();
  /** Segments holding unsettled frames, and the one being written. */
  readonly #segments = new Map<number, Segment>();
  #current: Segment | undefined;
  #nextId = 1;
  /** Bytes of frames on disk whose bytes are also in memory. */
  #resident = 0;
  /** Frames whose bytes `#load` read back: their buffer goes to `#readBuffers` once they are settled. */
  readonly #loaded = new Set<Frame>();
  /**
   * Buffers of frames read back and settled, for the next reads: draining a backlog reads hundreds of MiB, and a
   * fresh buffer per frame leaves the garbage collector tens of MiB behind.
   */
  readonly #readBuffers = new BufferPool(8);
  /** Bytes of frames in memory only (sealed while the disk failed). */
  #memoryOnly = 0;
  /** False from a failed write until a write succeeds again. */
  #diskOk = true;
  #retryAt = 0;
  #closed = false;
  /** `durability: "event"`: per tag, the segments holding its events not yet in a written frame, oldest first. */
  readonly #openRuns = new Map<string, EventRun[]>();
  #head = Buffer.allocUnsafe(1024);
  readonly #settleScratch = Buffer.allocUnsafe(SETTLE_RECORD_SIZE);

  /**
   * Takes the directory (created if missing) and replays it. Throws FORWARD_BUFFER_PATH (not a directory, not
   * writable), FORWARD_BUFFER_LOCKED (another sink holds it), FORWARD_BUFFER_FORMAT (unknown version, other acks).
   */
  constructor(
    opts: ResolvedDiskOptions,
    memoryLimitBytes: number,
    requireAck: boolean,
    hooks: DiskStoreHooks,
  ) {
    super(opts.limitBytes);
    this.#opts = opts;
    this.#memoryLimit = memoryLimitBytes;
    this.#acks = requireAck;
    this.#hooks = hooks;
    this.#now = hooks.now ?? (() => performance.now());
    this.#dir = openDirectory(opts.path);
    this.#release = acquireLock(this.#dir, opts.path);
    try {
      this.#replay();
    } catch (err) {
      this.#closeFiles();
      this.#release();
      throw err;
    }
  }

  /** Bytes counted against `limitBytes`: every unsettled byte while the disk works, memory only while it fails. */
  override get bytes(): number {
    return this.#diskOk ? super.bytes : this.openBytes + this.#memoryOnly;
  }

  /** `diskLimitBytes`, or `bufferLimitBytes` while the disk fails. */
  override get limitBytes(): number {
    return this.#diskOk ? super.limitBytes : this.#memoryLimit;
  }

  override add(frame: Frame): void {
    super.add(frame);
    // A CompressedPackedForward frame is written once gzipped (`compressed`).
    if (!frame.compressing) this.#persist(frame);
  }

  override compressed(frame: Frame, bytes: Buffer): boolean {
    if (!super.compressed(frame, bytes)) return false;
    this.#persist(frame);
    return true;
  }

  override peek(): Frame | undefined {
    for (let frame = super.peek(); frame !== undefined; frame = super.peek()) {
      if (frame.settled || frame.bytes !== EMPTY || this.#load(frame)) return frame;
      // Unreadable now: lost (counted), the next one is tried.
      super.shift();
      this.#hooks.damaged(frame.events, 1);
      this.settle(frame);
    }
    return undefined;
  }

  override settle(frame: Frame): boolean {
    if (!super.settle(frame)) return false;
    const place = this.#places.get(frame);
    if (place === undefined) {
      this.#memoryOnly -= frame.size;
      return true;
    }
    this.#places.delete(frame);
    if (frame.bytes !== EMPTY) this.#resident -= frame.size;
    if (this.#loaded.delete(frame)) {
      // No socket reads a settled frame any more.
      this.#readBuffers.give(frame.backing!);
      (frame as MutableFrame).backing = undefined;
    }
    if (this.#closed) return true;
    const segment = place.segment;
    segment.unsettled--;
    if (this.#collect(segment)) return true;
    try {
      segment.settleFd ??= openSync(segment.settleFile, "a");
      writeSync(segment.settleFd, settleRecord(place.offset, this.#settleScratch));
    } catch {
      // Not recorded: after a restart the frame is sent again (at least once). The next frame write reports the disk.
    }
    return true;
  }

  /** Keeps the frames that are on disk for the next store on the directory; gives up the others. Returns the events kept. */
  override close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    let kept = 0;
    for (const [frame] of this.#places) if (!frame.settled) kept += frame.events;
    for (const frame of this.unsettledFrames()) if (!this.#places.has(frame)) this.settle(frame);
    // The segment being written is finished: deleted if nothing in it is needed any more.
    if (this.#current !== undefined) this.#finish(this.#current);
    this.#closeFiles();
    this.#release();
    this.releaseAllWaiters();
    return kept;
  }

  #replay(): void {
    const names = readdirSync(this.#dir)
      .filter((name) => SEGMENT_NAME.test(name))
      .sort();
    const found: { segment: Segment; file: Buffer }[] = [];
    for (const name of names) {
      const segment = this.#segment(Number(SEGMENT_NAME.exec(name)![1]));
      this.#nextId = segment.id + 1;
      const file = readFileSync(segment.file);
      const header = readSegmentHeader(file);
      if (!header.ok) {
        if (header.reason === "version") {
          throw new ForwardBufferFormatError(
            `${segment.file} is in disk buffer format version ${header.version}, which this release does not read ` +
              `(it reads version 1): replay it with the release that wrote it, or move it out of bufferPath`,
            segment.file,
          );
        }
        // Cut short at creation (nothing in it) or not a segment at all: set aside, never read as one.
        if (header.reason === "short") this.#delete(segment);
        else {
          this.#hooks.damaged(0, 1);
          renameSync(segment.file, `${segment.file}.damaged`);
        }
        continue;
      }
      if (header.acks !== this.#acks) {
        throw new ForwardBufferFormatError(
          `${segment.file} holds frames written with requireAck: ${header.acks}, and this sink has requireAck: ` +
            `${this.#acks}: its frames cannot be sent as they are. Start the sink with requireAck: ${header.acks} ` +
            "until the directory is empty, or move the file out of bufferPath",
          segment.file,
        );
      }
      found.push({ segment, file });
    }
    // durability "event": per tag, the event records no frame record covered yet (a frame covers the oldest).
    const open = new Map<string, { segment: Segment; file: Buffer; record: ScannedRecord }[]>();
    for (const { segment, file } of found) this.#replaySegment(segment, file, open);
    for (const [tag, events] of open) this.#replayEvents(Buffer.from(tag, "latin1"), events);
    for (const { segment } of found) this.#collect(segment);
  }

  #replaySegment(
    segment: Segment,
    file: Buffer,
    open: Map<string, { segment: Segment; file: Buffer; record: ScannedRecord }[]>,
  ): void {
    let settled = new Set<number>();
    try {
      const log = readFileSync(segment.settleFile);
      settled = readSettleLog(log);
      // A record torn at the end would misalign the ones appended after it.
      const whole = log.length - (log.length % SETTLE_RECORD_SIZE);
      if (whole !== log.length) truncateSync(segment.settleFile, whole);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const scan = scanSegment(file);
    if (scan.damagedRecords > 0) this.#hooks.damaged(scan.damagedEvents, scan.damagedRecords);
    segment.size = file.length;
    for (const record of scan.records) {
      let events = open.get(record.tag);
      if (record.kind === "event") {
        if (events === undefined) open.set(record.tag, (events = []));
        events.push({ segment, file, record });
        continue;
      }
      events?.splice(0, record.events);
      if (settled.has(record.offset)) continue;
      const frame = newFrame(this.frameCount + 1, {
        bytes: EMPTY,
        events: record.events,
        tag: Buffer.from(record.tag, "latin1"),
        chunk: record.chunk,
        backing: undefined,
        size: record.dataLength,
      });
      super.add(frame);
      this.#places.set(frame, { segment, offset: record.offset, length: record.length });
      segment.unsettled++;
    }
  }

  /**
   * Events written (`durability: "event"`) whose frame never was: framed again (PackedForward, up to 1000 events a
   * frame) and written as frames, which cover them from now on.
   */
  #replayEvents(tag: Buffer, events: { segment: Segment; file: Buffer; record: ScannedRecord }[]): void {
    for (let i = 0; i < events.length; i += 1000) {
      const group = events.slice(i, i + 1000);
      const body = Buffer.concat(
        group.map(({ file, record }) =>
          file.subarray(record.dataOffset, record.dataOffset + record.dataLength),
        ),
      );
      const chunk = this.#acks ? newChunkId() : undefined;
      const bytes = encodePackedFrame(tag, body, { size: group.length, chunk });
      const frame = newFrame(this.frameCount + 1, {
        bytes,
        events: group.length,
        tag,
        chunk,
        backing: undefined,
      });
      super.add(frame);
      this.#persist(frame);
      // Not written: the event records stay the only copy on disk, and their segments stay.
      if (!this.#places.has(frame)) for (const { segment } of group) segment.openEvents++;
    }
  }

  /** `durability: "event"`: writes one committed event (its `[time, record]` entry) before `send()` returns. */
  logEvent(tag: string, tagBytes: Buffer, entry: Buffer): void {
    if (this.#closed || !this.#writable()) return;
    const segment = this.#current!;
    const pieces = forwardEntry(entry);
    const head = this.#headFor(tagBytes);
    const headLength = writeEventHead(head, tagBytes, pieces);
    let length = headLength;
    for (const piece of pieces) length += piece.length;
    const offset = segment.size;
    try {
      if (writevSync(segment.fd!, [head.subarray(0, headLength), ...pieces], offset) !== length) {
        throw shortWrite();
      }
      if (this.#opts.fsync) fdatasyncSync(segment.fd!);
    } catch (err) {
      this.#failed(err, segment, offset);
      return;
    }
    segment.size += length;
    segment.openEvents++;
    let runs = this.#openRuns.get(tag);
    if (runs === undefined) this.#openRuns.set(tag, (runs = []));
    const last = runs[runs.length - 1];
    if (last !== undefined && last.segment === segment) last.count++;
    else runs.push({ segment, count: 1 });
  }

  /** `durability: "event"`: a frame of `frame.events` events of its tag was written: they are covered now. */
  #covered(frame: Frame): void {
    const runs = this.#openRuns.get(frame.tag.toString("utf8"));
    let left = frame.events;
    while (runs !== undefined && runs.length > 0 && left > 0) {
      const run = runs[0]!;
      const n = Math.min(run.count, left);
      run.count -= n;
      left -= n;
      run.segment.openEvents -= n;
      if (run.count === 0) {
        runs.shift();
        this.#collect(run.segment);
      }
    }
  }

  /** A scratch buffer for a record head with `tag`. */
  #headFor(tag: Buffer): Buffer {
    const size = recordHeadSize(tag);
    if (this.#head.length < size) this.#head = Buffer.allocUnsafe(size);
    return this.#head;
  }

  /**
   * Deletes `segment` if nothing in it is needed any more (and, with `durability: "event"`, the segments after it
   * that became deletable: those are deleted oldest first, so that an event record never outlives the frame record
   * that covers it). Returns true when `segment` was deleted.
   */
  #collect(segment: Segment): boolean {
    const done = (s: Segment): boolean => s.unsettled === 0 && s.openEvents === 0 && s !== this.#current;
    if (this.#opts.durability === "frame") {
      if (!done(segment)) return false;
      this.#delete(segment);
      return true;
    }
    for (const oldest of this.#segments.values()) {
      if (!done(oldest)) break;
      this.#delete(oldest);
    }
    return !this.#segments.has(segment.id);
  }

  #segment(id: number): Segment {
    const base = path.join(this.#dir, String(id).padStart(16, "0"));
    const segment: Segment = {
      id,
      file: `${base}.seg`,
      settleFile: `${base}.settled`,
      fd: undefined,
      size: 0,
      unsettled: 0,
      settleFd: undefined,
      openEvents: 0,
    };
    this.#segments.set(id, segment);
    return segment;
  }

  /** True when frames may be written now: the disk works, or it failed long enough ago and a new segment opens. */
  #writable(): boolean {
    if (this.#diskOk && this.#current !== undefined && this.#current.size < SEGMENT_BYTES) return true;
    if (!this.#diskOk && this.#now() < this.#retryAt) return false;
    const previous = this.#current;
    if (previous !== undefined) this.#finish(previous);
    const segment = this.#segment(this.#nextId++);
    try {
      segment.fd = openSync(segment.file, "wx+");
      const header = segmentHeader(this.#acks);
      if (writeSync(segment.fd, header) !== header.length) throw shortWrite();
      segment.size = header.length;
      if (this.#opts.fsync) {
        fdatasyncSync(segment.fd);
        syncDirectory(this.#dir);
      }
    } catch (err) {
      this.#current = segment;
      this.#failed(err, segment, 0);
      return false;
    }
    this.#current = segment;
    this.#diskOk = true;
    return true;
  }

  /** Writes `frame` to the current segment; keeps its bytes in memory while they fit, else lets them go. */
  #persist(frame: Frame): void {
    if (this.#closed || !this.#writable()) {
      this.#memoryOnly += frame.size;
      return;
    }
    const segment = this.#current!;
    const buf = this.#headFor(frame.tag);
    const head = buf.subarray(0, writeFrameHead(buf, frame.bytes, frame.events, frame.tag, frame.chunk));
    const offset = segment.size;
    const length = head.length + frame.size;
    try {
      if (writevSync(segment.fd!, [head, frame.bytes], offset) !== length) throw shortWrite();
      if (this.#opts.fsync) fdatasyncSync(segment.fd!);
    } catch (err) {
      this.#failed(err, segment, offset);
      this.#memoryOnly += frame.size;
      return;
    }
    segment.size += length;
    segment.unsettled++;
    this.#places.set(frame, { segment, offset, length });
    if (this.#opts.durability === "event") this.#covered(frame);
    if (this.#resident + this.#memoryOnly + this.openBytes + frame.size > this.#memoryLimit) {
      this.#hooks.letGo(frame);
      (frame as MutableFrame).backing = undefined;
      (frame as MutableFrame).bytes = EMPTY;
    } else {
      this.#resident += frame.size;
    }
  }

  /** Reads a frame's bytes back from its file; false when they cannot be read or are damaged. */
  #load(frame: Frame): boolean {
    const place = this.#places.get(frame);
    if (place === undefined) return false;
    const whole = this.#readBuffers.take(place.length);
    const record = whole.subarray(0, place.length);
    let fd: number | undefined;
    try {
      fd = place.segment.fd ?? openSync(place.segment.file, "r");
      if (readSync(fd, record, 0, place.length, place.offset) !== place.length || !recordIntact(record))
        return false;
    } catch {
      return false;
    } finally {
      if (fd !== undefined && fd !== place.segment.fd) closeSync(fd);
    }
    (frame as MutableFrame).bytes = record.subarray(place.length - frame.size);
    (frame as MutableFrame).backing = whole;
    this.#loaded.add(frame);
    this.#resident += frame.size;
    return true;
  }

  /** A write failed: the segment is cut back to `offset` and closed; frames stay in memory until the retry. */
  #failed(err: unknown, segment: Segment, offset: number): void {
    const wasOk = this.#diskOk;
    this.#diskOk = false;
    this.#retryAt = this.#now() + RETRY_MS;
    if (segment.fd !== undefined) {
      try {
        ftruncateSync(segment.fd, offset);
      } catch {
        // The torn record is skipped (and counted) at replay.
      }
      segment.size = offset;
    }
    this.#current = undefined;
    this.#finish(segment);
    if (wasOk) {
      const message = (err as Error).message;
      this.#hooks.failed(
        new ForwardBufferWriteError(
          `cannot write the disk buffer in ${JSON.stringify(this.#opts.path)} (${message}): new frames stay in ` +
            "memory (bufferLimitBytes) until a write succeeds again",
          err,
        ),
      );
    }
  }

  /** A segment no longer written: closed, and deleted when nothing in it is needed. */
  #finish(segment: Segment): void {
    if (segment.fd !== undefined) {
      closeSync(segment.fd);
      segment.fd = undefined;
    }
    if (segment === this.#current) this.#current = undefined;
    this.#collect(segment);
  }

  #delete(segment: Segment): void {
    if (segment.fd !== undefined) closeSync(segment.fd);
    if (segment.settleFd !== undefined) closeSync(segment.settleFd);
    segment.fd = segment.settleFd = undefined;
    this.#segments.delete(segment.id);
    if (segment === this.#current) this.#current = undefined;
    for (const file of [segment.file, segment.settleFile]) {
      try {
        unlinkSync(file);
      } catch {
        // Already gone, or never created (a settle log).
      }
    }
  }

  #closeFiles(): void {
    for (const segment of this.#segments.values()) {
      if (segment.fd !== undefined) closeSync(segment.fd);
      if (segment.settleFd !== undefined) closeSync(segment.settleFd);
      segment.fd = segment.settleFd = undefined;
    }
    this.#current = undefined;
  }
}

/** Creates `dir` if missing and checks that this process can use it; throws FORWARD_BUFFER_PATH naming `bufferPath`. */
function openDirectory(dir: string): string {
  const resolved = path.resolve(dir);
  if (existsSync(resolved) && !statSync(resolved).isDirectory()) {
    throw new ForwardBufferPathError(
      dir,
      `bufferPath ${JSON.stringify(dir)} is not a directory (it is a file)`,
    );
  }
  try {
    mkdirSync(resolved, { recursive: true });
  } catch (err) {
    throw new ForwardBufferPathError(
      dir,
      `bufferPath ${JSON.stringify(dir)} cannot be created as a directory: ${(err as Error).message}`,
      err,
    );
  }
  try {
    accessSync(resolved, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ForwardBufferPathError(
      dir,
      `bufferPath ${JSON.stringify(dir)} is not writable by this process: ${(err as Error).message}`,
      err,
    );
  }
  return resolved;
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function shortWrite(): Error {
  return Object.assign(new Error("short write (no space left on device?)"), { code: "ENOSPC" });
}
