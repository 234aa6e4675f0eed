import { ForwardProtocolError } from "../errors.js";

/**
 * A small streaming msgpack decoder for what a Forward server sends back (HELO, PONG, `{ack}`).
 * Strings are kept as raw bytes (Buffer), because Fluent Bit sends the HELO nonce as a msgpack str holding
 * random, non-UTF-8 bytes. Maps become `Map<string, value>` with latin1 keys. Never used on the hot path.
 */

/** A decoded server value: strings and binaries both arrive as Buffer. */
export type ServerValue =
  null | boolean | number | Buffer | ServerValue[] | Map<string, ServerValue> | ExtValue;

/** A msgpack ext value (type + data), kept opaque. */
export interface ExtValue {
  ext: number;
  data: Buffer;
}

const NEED_MORE = Symbol("need more");

/** Splits a byte stream into server values; throws ForwardProtocolError on garbage or an oversized value. */
export class ReplyDecoder {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  readonly #maxBytes: number;

  /** @param maxBytes largest reply accepted, buffered or decoded (default 64 KiB: real replies are < 300 bytes). */
  constructor(maxBytes = 64 * 1024) {
    this.#maxBytes = maxBytes;
  }

  /** Appends bytes and returns every complete value they finish. */
  push(chunk: Buffer): ServerValue[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: ServerValue[] = [];
    while (this.#buf.length > 0) {
      this.#pos = 0;
      const value = this.#read(0);
      if (value === NEED_MORE) {
        if (this.#buf.length > this.#maxBytes) {
          throw new ForwardProtocolError(`server sent a reply larger than ${this.#maxBytes} bytes`);
        }
        break;
      }
      out.push(value);
      this.#buf = this.#buf.subarray(this.#pos);
    }
    return out;
  }

  #need(n: number): boolean {
    return this.#pos + n <= this.#buf.length;
  }

  #bytes(n: number): Buffer | typeof NEED_MORE {
    if (n > this.#maxBytes) throw new ForwardProtocolError(`server sent a value of ${n} bytes`);
    if (!this.#need(n)) return NEED_MORE;
    const b = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return Buffer.from(b);
  }

  #uint(size: 1 | 2 | 4 | 8): number | typeof NEED_MORE {
    if (!this.#need(size)) return NEED_MORE;
    const p = this.#pos;
    this.#pos += size;
    if (size === 1) return this.#buf.readUInt8(p);
    if (size === 2) return this.#buf.readUInt16BE(p);
    if (size === 4) return this.#buf.readUInt32BE(p);
    return Number(this.#buf.readBigUInt64BE(p));
  }

  #read(depth: number): ServerValue | typeof NEED_MORE {
    if (depth > 16) throw new ForwardProtocolError("server sent a reply nested too deeply");
    if (!this.#need(1)) return NEED_MORE;
    const b = this.#buf[this.#pos++]!;
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return this.#bytes(b & 0x1f);
    if ((b & 0xf0) === 0x90) return this.#array(b & 0x0f, depth);
    if ((b & 0xf0) === 0x80) return this.#map(b & 0x0f, depth);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.#sized(1, (n) => this.#bytes(n));
      case 0xc5:
      case 0xda:
        return this.#sized(2, (n) => this.#bytes(n));
      case 0xc6:
      case 0xdb:
        return this.#sized(4, (n) => this.#bytes(n));
      case 0xca:
        if (!this.#need(4)) return NEED_MORE;
        this.#pos += 4;
        return this.#buf.readFloatBE(this.#pos - 4);
      case 0xcb:
        if (!this.#need(8)) return NEED_MORE;
        this.#pos += 8;
        return this.#buf.readDoubleBE(this.#pos - 8);
      case 0xcc:
        return this.#uint(1);
      case 0xcd:
        return this.#uint(2);
      case 0xce:
        return this.#uint(4);
      case 0xcf:
        return this.#uint(8);
      case 0xd0:
        return this.#signed(1);
      case 0xd1:
        return this.#signed(2);
      case 0xd2:
        return this.#signed(4);
      case 0xd3:
        return this.#signed(8);
      case 0xd4:
        return this.#ext(1);
      case 0xd5:
        return this.#ext(2);
      case 0xd6:
        return this.#ext(4);
      case 0xd7:
        return this.#ext(8);
      case 0xd8:
        return this.#ext(16);
      case 0xc7:
        return this.#sized(1, (n) => this.#ext(n));
      case 0xc8:
        return this.#sized(2, (n) => this.#ext(n));
      case 0xc9:
        return this.#sized(4, (n) => this.#ext(n));
      case 0xdc:
        return this.#sized(2, (n) => this.#array(n, depth));
      case 0xdd:
        return this.#sized(4, (n) => this.#array(n, depth));
      case 0xde:
        return this.#sized(2, (n) => this.#map(n, depth));
      case 0xdf:
        return this.#sized(4, (n) => this.#map(n, depth));
      default:
        throw new ForwardProtocolError(`server sent an invalid msgpack byte 0x${b.toString(16)}`);
    }
  }

  #sized(size: 1 | 2 | 4, then: (n: number) => ServerValue | typeof NEED_MORE) {
    const n = this.#uint(size);
    return n === NEED_MORE ? NEED_MORE : then(n);
  }

  #signed(size: 1 | 2 | 4 | 8): number | typeof NEED_MORE {
    if (!this.#need(size)) return NEED_MORE;
    const p = this.#pos;
    this.#pos += size;
    if (size === 1) return this.#buf.readInt8(p);
    if (size === 2) return this.#buf.readInt16BE(p);
    if (size === 4) return this.#buf.readInt32BE(p);
    return Number(this.#buf.readBigInt64BE(p));
  }

  #ext(n: number): ExtValue | typeof NEED_MORE {
    if (!this.#need(1)) return NEED_MORE;
    const type = this.#buf.readInt8(this.#pos++);
    const data = this.#bytes(n);
    return data === NEED_MORE ? NEED_MORE : { ext: type, data };
  }

  #array(n: number, depth: number): ServerValue[] | typeof NEED_MORE {
    if (n > this.#maxBytes) throw new ForwardProtocolError(`server sent an array of ${n} elements`);
    const out: ServerValue[] = [];
    for (let i = 0; i < n; i++) {
      const v = this.#read(depth + 1);
      if (v === NEED_MORE) return NEED_MORE;
      out.push(v);
    }
    return out;
  }

  #map(n: number, depth: number): Map<string, ServerValue> | typeof NEED_MORE {
    if (n > this.#maxBytes) throw new ForwardProtocolError(`server sent a map of ${n} entries`);
    const out = new Map<string, ServerValue>();
    for (let i = 0; i < n; i++) {
      const k = this.#read(depth + 1);
      if (k === NEED_MORE) return NEED_MORE;
      const v = this.#read(depth + 1);
      if (v === NEED_MORE) return NEED_MORE;
      out.set(Buffer.isBuffer(k) ? k.toString("latin1") : String(k), v);
    }
    return out;
  }
}
