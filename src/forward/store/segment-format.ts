import { crc32 } from "node:zlib";

/**
 * The disk buffer's file format, pure bytes (docs/architecture.md, "The frame store"): a segment is a 16-byte header
 * then frame records, each with a 20-byte header (magic, payload length, events, header CRC32, payload CRC32) and a
 * payload (chunk id length, chunk id, the frame as it goes on the wire); a settle log is 8-byte records (the frame
 * record's offset and its CRC32).
 */

/** The format this release writes and the only one it reads. */
export const FORMAT_VERSION = 1;
const SEGMENT_MAGIC = Buffer.from("UWFWDSEG", "latin1");
/** Bytes of a segment's header. */
export const SEGMENT_HEADER_SIZE = 16;
const RECORD_MAGIC = 0x55574652;
const RECORD_MAGIC_BYTES = Buffer.from([0x55, 0x57, 0x46, 0x52]);
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

/**
 * Writes a frame record's header and payload prefix into `target` (at least `RECORD_HEADER_SIZE + 1 + chunk length`
 * bytes) for a frame of `frame` bytes and `events` events; returns the number of bytes written there (the frame
 * follows them in the file).
 */
export function writeRecordHead(
  target: Buffer,
  frame: Buffer,
  events: number,
  chunk: string | undefined,
): number {
  const chunkLength = chunk === undefined ? 0 : target.write(chunk, RECORD_HEADER_SIZE + 1, "latin1");
  target[RECORD_HEADER_SIZE] = chunkLength;
  const prefixEnd = RECORD_HEADER_SIZE + 1 + chunkLength;
  target.writeUInt32BE(RECORD_MAGIC, 0);
  target.writeUInt32BE(1 + chunkLength + frame.length, 4);
  target.writeUInt32BE(events, 8);
  target.writeUInt32BE(crc32(target.subarray(0, 12)), 12);
  target.writeUInt32BE(crc32(frame, crc32(target.subarray(RECORD_HEADER_SIZE, prefixEnd))), 16);
  return prefixEnd;
}

/** Room `writeRecordHead` needs: the header, the chunk id's length byte and the chunk id (at most 255 bytes). */
export const MAX_RECORD_HEAD_SIZE = RECORD_HEADER_SIZE + 1 + 255;

/** A frame record read back intact. */
export interface ScannedRecord {
  /** Where the record begins in the segment (its name in the settle log). */
  offset: number;
  /** Bytes of the whole record. */
  length: number;
  events: number;
  chunk: string | undefined;
  /** Where the frame's bytes begin, and how many there are. */
  frameOffset: number;
  frameLength: number;
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
    const chunkLength = file[payload]!;
    if (
      payloadLength < 1 + chunkLength ||
      crc32(file.subarray(payload, end)) !== file.readUInt32BE(pos + 16)
    ) {
      damagedRecords++;
      damagedEvents += events;
      pos = end;
      continue;
    }
    records.push({
      offset: pos,
      length: end - pos,
      events,
      chunk: chunkLength === 0 ? undefined : file.toString("latin1", payload + 1, payload + 1 + chunkLength),
      frameOffset: payload + 1 + chunkLength,
      frameLength: payloadLength - 1 - chunkLength,
    });
    pos = end;
  }
  return { records, damagedRecords, damagedEvents };
}

function headerChecksumOk(file: Buffer, pos: number): boolean {
  return file.readUInt32BE(pos + 12) === crc32(file.subarray(pos, pos + 12));
}

/** A complete record header at `pos`: magic and checksum right. */
function validHeader(file: Buffer, pos: number): boolean {
  return (
    file.length - pos >= RECORD_HEADER_SIZE &&
    file.readUInt32BE(pos) === RECORD_MAGIC &&
    headerChecksumOk(file, pos)
  );
}

function nextValidHeader(file: Buffer, from: number): number {
  for (
    let at = file.indexOf(RECORD_MAGIC_BYTES, from);
    at >= 0;
    at = file.indexOf(RECORD_MAGIC_BYTES, at + 1)
  ) {
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
