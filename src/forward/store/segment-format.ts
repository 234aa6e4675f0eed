import { crc32 } from "node:zlib";

/**
 * The disk buffer's file format, pure bytes (docs/architecture.md, "The frame store"): a segment is a 16-byte header
 * then records, each with a 20-byte header (magic, payload length, events, header CRC32, payload CRC32) and a
 * payload: a frame record holds the chunk id and the tag, then the frame as it goes on the wire; an event record
 * (`durability: "event"`) holds the tag, then one `[time, record]` entry. A settle log is 8-byte records (the frame
 * record's offset and its CRC32).
 */

/** The format this release writes and the only one it reads. */
export const FORMAT_VERSION = 1;
const SEGMENT_MAGIC = Buffer.from("UWFWDSEG", "latin1");
/** Bytes of a segment's header. */
export const SEGMENT_HEADER_SIZE = 16;
const FRAME_MAGIC = 0x55574652; // "UWFR"
const EVENT_MAGIC = 0x55574645; // "UWFE"
/** The bytes every record's magic begins with ("UWF"), where a scan looks for the next record after damage. */
const MAGIC_PREFIX = Buffer.from("UWF", "latin1");
/** Bytes of a frame record's header. */
export const RECORD_HEADER_SIZE = 20;
/** Bytes of one settle record. */
export const SETTLE_RECORD_SIZE = 8;
const FLAG_ACKS = 1;

/** A new segment's header: `acks` says whether its frames carry chunk ids (`requireAck`). */
export function segmentHeader(acks: boolean): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt16BE(FORMAT_VERSION, 8);
  header[10] = acks ? FLAG_ACKS : 0;
  header.writeUInt32BE(crc32(header.subarray(0, 12)), 12);
  return header;
}

/** What a segment's header says: readable (with its ack flag), or why not. */
export type SegmentHeader =
  | { ok: true; acks: boolean }
  | { ok: false; reason: "short" | "magic" | "checksum" }
  | { ok: false; reason: "version"; version: number };

/** Reads a segment's header from the start of `file`. */
export function readSegmentHeader(file: Buffer): SegmentHeader {
  if (file.length < SEGMENT_HEADER_SIZE) return { ok: false, reason: "short" };
  if (!file.subarray(0, 8).equals(SEGMENT_MAGIC)) return { ok: false, reason: "magic" };
  if (file.readUInt32BE(12) !== crc32(file.subarray(0, 12))) return { ok: false, reason: "checksum" };
  const version = file.readUInt16BE(8);
  if (version !== FORMAT_VERSION) return { ok: false, reason: "version", version };
  return { ok: true, acks: (file[10]! & FLAG_ACKS) !== 0 };
}

/** Room a record's head (header and payload prefix) needs: `tag` bytes of tag, and a chunk id (at most 255 bytes). */
export function recordHeadSize(tag: Buffer): number {
  return RECORD_HEADER_SIZE + 1 + 255 + 2 + tag.length;
}

/**
 * Writes a frame record's header and payload prefix (chunk id, tag) into `target` (`recordHeadSize(tag)` bytes)
 * for `frame` of `events` events; returns the bytes written there (the frame follows them in the file).
 */
export function writeFrameHead(
  target: Buffer,
  frame: Buffer,
  events: number,
  tag: Buffer,
  chunk: string | undefined,
): number {
  const chunkLength = chunk === undefined ? 0 : target.write(chunk, RECORD_HEADER_SIZE + 1, "latin1");
  target[RECORD_HEADER_SIZE] = chunkLength;
  let pos = RECORD_HEADER_SIZE + 1 + chunkLength;
  pos = target.writeUInt16BE(tag.length, pos);
  pos += tag.copy(target, pos);
  finishHead(target, FRAME_MAGIC, events, pos, [frame]);
  return pos;
}

/**
 * Writes an event record's header and payload prefix (the tag) into `target` for the entry made of `pieces`
 * (`[time, record]`, whole once concatenated); returns the bytes written there (the pieces follow).
 */
export function writeEventHead(target: Buffer, tag: Buffer, pieces: readonly Buffer[]): number {
  let pos = target.writeUInt16BE(tag.length, RECORD_HEADER_SIZE);
  pos += tag.copy(target, pos);
  finishHead(target, EVENT_MAGIC, 1, pos, pieces);
  return pos;
}

function finishHead(
  target: Buffer,
  magic: number,
  events: number,
  prefixEnd: number,
  pieces: readonly Buffer[],
): void {
  let length = prefixEnd - RECORD_HEADER_SIZE;
  let crc = crc32(target.subarray(RECORD_HEADER_SIZE, prefixEnd));
  for (const piece of pieces) {
    length += piece.length;
    crc = crc32(piece, crc);
  }
  target.writeUInt32BE(magic, 0);
  target.writeUInt32BE(length, 4);
  target.writeUInt32BE(events, 8);
  target.writeUInt32BE(crc32(target.subarray(0, 12)), 12);
  target.writeUInt32BE(crc, 16);
}

/**
 * The `[time, record]` entry of a Message-mode message `[tag, time, record]` (`0x93`, the tag, then the rest), as
 * two pieces: a fixarray(2) byte and the rest of the message. Other entries are returned as they are.
 */
export function forwardEntry(entry: Buffer): Buffer[] {
  if (entry[0] !== 0x93) return [entry];
  const b = entry[1]!;
  let tagEnd: number;
  if (b >= 0xa0 && b <= 0xbf) tagEnd = 2 + (b & 0x1f);
  else if (b === 0xd9) tagEnd = 3 + entry[2]!;
  else if (b === 0xda) tagEnd = 4 + entry.readUInt16BE(2);
  else tagEnd = 6 + entry.readUInt32BE(2);
  return [FIXARRAY_2, entry.subarray(tagEnd)];
}

const FIXARRAY_2 = Buffer.from([0x92]);

/** A record read back intact. */
export interface ScannedRecord {
  /** A frame, or one event (`durability: "event"`) not yet in a frame record when it was written. */
  kind: "frame" | "event";
  /** Where the record begins in the segment (its name in the settle log). */
  offset: number;
  /** Bytes of the whole record. */
  length: number;
  events: number;
  /** The tag, as a latin1 string of its UTF-8 bytes (a map key; `Buffer.from(tag, "latin1")` gives the bytes). */
  tag: string;
  chunk: string | undefined;
  /** Where the frame's (or the entry's) bytes begin, and how many there are. */
  dataOffset: number;
  dataLength: number;
}

/** What a scan of a segment found. */
export interface SegmentScan {
  records: ScannedRecord[];
  /** Records skipped: torn (cut short by the end of the file) or corrupt (a checksum failed). */
  damagedRecords: number;
  /** Events of the skipped records whose header was intact (the others' count is unknown). */
  damagedEvents: number;
}

/**
 * Reads every frame record of a segment (`file`, header included), skipping damaged ones: a record whose payload
 * checksum fails or which the end of the file cuts short is skipped by its length; after a header whose checksum
 * fails, the scan looks for the next valid header byte by byte. Never throws.
 */
export function scanSegment(file: Buffer): SegmentScan {
  const records: ScannedRecord[] = [];
  let damagedRecords = 0;
  let damagedEvents = 0;
  let pos = SEGMENT_HEADER_SIZE;
  while (pos < file.length) {
    if (!validHeader(file, pos)) {
      damagedRecords++;
      if (file.length - pos >= 16 && headerChecksumOk(file, pos)) damagedEvents += file.readUInt32BE(pos + 8);
      const next = nextValidHeader(file, pos + 1);
      if (next < 0) break;
      pos = next;
      continue;
    }
    const payloadLength = file.readUInt32BE(pos + 4);
    const events = file.readUInt32BE(pos + 8);
    const payload = pos + RECORD_HEADER_SIZE;
    const end = payload + payloadLength;
    if (end > file.length) {
      damagedRecords++;
      damagedEvents += events;
      break;
    }
    const record =
      crc32(file.subarray(payload, end)) === file.readUInt32BE(pos + 16) && parse(file, pos, end);
    if (!record) {
      damagedRecords++;
      damagedEvents += events;
      pos = end;
      continue;
    }
    records.push(record);
    pos = end;
  }
  return { records, damagedRecords, damagedEvents };
}

/** A record whose checksums passed, or undefined when its payload does not hold what its kind needs. */
function parse(file: Buffer, pos: number, end: number): ScannedRecord | undefined {
  const kind = file.readUInt32BE(pos) === FRAME_MAGIC ? "frame" : "event";
  let at = pos + RECORD_HEADER_SIZE;
  let chunk: string | undefined;
  if (kind === "frame") {
    const chunkLength = file[at]!;
    if (chunkLength > 0) chunk = file.toString("latin1", at + 1, at + 1 + chunkLength);
    at += 1 + chunkLength;
  }
  if (at + 2 > end) return undefined;
  const tagEnd = at + 2 + file.readUInt16BE(at);
  if (tagEnd > end) return undefined;
  return {
    kind,
    offset: pos,
    length: end - pos,
    events: file.readUInt32BE(pos + 8),
    tag: file.toString("latin1", at + 2, tagEnd),
    chunk,
    dataOffset: tagEnd,
    dataLength: end - tagEnd,
  };
}

function headerChecksumOk(file: Buffer, pos: number): boolean {
  return file.readUInt32BE(pos + 12) === crc32(file.subarray(pos, pos + 12));
}

/** A complete record header at `pos`: magic and checksum right. */
function validHeader(file: Buffer, pos: number): boolean {
  return (
    file.length - pos >= RECORD_HEADER_SIZE &&
    (file.readUInt32BE(pos) === FRAME_MAGIC || file.readUInt32BE(pos) === EVENT_MAGIC) &&
    headerChecksumOk(file, pos)
  );
}

function nextValidHeader(file: Buffer, from: number): number {
  for (let at = file.indexOf(MAGIC_PREFIX, from); at >= 0; at = file.indexOf(MAGIC_PREFIX, at + 1)) {
    if (validHeader(file, at)) return at;
  }
  return -1;
}

/** The payload checksum of a record read back whole (`record` = header + payload): true when it matches. */
export function recordIntact(record: Buffer): boolean {
  return (
    record.length >= RECORD_HEADER_SIZE &&
    validHeader(record, 0) &&
    record.readUInt32BE(4) === record.length - RECORD_HEADER_SIZE &&
    crc32(record.subarray(RECORD_HEADER_SIZE)) === record.readUInt32BE(16)
  );
}

/** The settle record of the frame record at `offset`. */
export function settleRecord(
  offset: number,
  target: Buffer = Buffer.allocUnsafe(SETTLE_RECORD_SIZE),
): Buffer {
  target.writeUInt32BE(offset, 0);
  target.writeUInt32BE(crc32(target.subarray(0, 4)), 4);
  return target;
}

/** The offsets a settle log names; records cut short or whose checksum fails are ignored (their frames are sent again). */
export function readSettleLog(log: Buffer): Set<number> {
  const settled = new Set<number>();
  for (let pos = 0; pos + SETTLE_RECORD_SIZE <= log.length; pos += SETTLE_RECORD_SIZE) {
    if (log.readUInt32BE(pos + 4) === crc32(log.subarray(pos, pos + 4))) settled.add(log.readUInt32BE(pos));
  }
  return settled;
}
