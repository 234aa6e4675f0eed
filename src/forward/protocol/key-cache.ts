import { writeStr } from "./msgpack.js";

/** Longest msgpack form of a key that is cached (a str8 header and 62 bytes of UTF-8). */
export const MAX_CACHED_KEY_BYTES = 64;
/** Most keys a cache holds: with MAX_CACHED_KEY_BYTES, at most 64 KiB of key bytes. */
export const MAX_CACHED_KEYS = 1024;
/** Keys a full cache could not take, after which it starts over. */
export const MISSES_BEFORE_RESET = 16 * MAX_CACHED_KEYS;

const scratch = Buffer.alloc(MAX_CACHED_KEY_BYTES);
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.length);

/**
 * A key at its place in a map shape (after the keys before it in the same map): its msgpack bytes, and the keys
 * cached after it.
 */
export class CachedKey {
  /** The key's msgpack bytes as little-endian 32-bit words, the last one padded. */
  readonly words: Int32Array;
  /** How many bytes of `words` the key takes. */
  readonly size: number;
  readonly #cache: KeyCache;
  /** The key that came after this one last time, and its CachedKey: a map shaped like the last one hits here. */
  #lastKey: string | undefined = undefined;
  #lastNext: CachedKey | undefined = undefined;
  #next: Map<string, CachedKey> | undefined = undefined;

  constructor(words: Int32Array, size: number, cache: KeyCache) {
    this.words = words;
    this.size = size;
    this.#cache = cache;
  }

  /** `key` after this one, cached now if the cache takes it; undefined if it does not. */
  next(key: string): CachedKey | undefined {
    return this.#lastKey === key ? this.#lastNext : this.#lookUp(key);
  }

  #lookUp(key: string): CachedKey | undefined {
    let found = this.#next?.get(key);
    if (found === undefined) {
      found = this.#cache.admit(key);
      if (found === undefined) return undefined;
      (this.#next ??= new Map()).set(key, found);
    }
    this.#lastKey = key;
    this.#lastNext = found;
    return found;
  }
}

/**
 * The msgpack bytes of the map keys a RecordEncoder has written, so that a key seen before is copied as a few
 * 32-bit words instead of read character by character (reading keys was most of the time spent encoding a uWSGI
 * stats document). Keys are kept by map shape, a tree of key sequences (as V8 keeps hidden classes), and every key
 * remembers the key that came after it last: a map shaped like the previous one costs one string comparison per
 * key, no hash lookup.
 *
 * Bounded: at most MAX_CACHED_KEYS keys of at most MAX_CACHED_KEY_BYTES (about 0.5 MiB of heap when full; longer
 * keys are written as they come, and so is the rest of their map). A full cache takes no new key; after
 * MISSES_BEFORE_RESET keys it could not take (keys that never repeat, such as ids) it starts over, so that shapes
 * that come later get their turn, while filling it again costs at most one key in 16 it could not take.
 */
export class KeyCache {
  #root = new CachedKey(new Int32Array(0), 0, this);
  #size = 0;
  #missesWhileFull = 0;

  /** Where every map starts: the place before its first key. */
  get root(): CachedKey {
    return this.#root;
  }

  /** Keys cached since the cache last started over (those of an abandoned tree included). */
  get size(): number {
    return this.#size;
  }

  /** A new CachedKey for `key`, or undefined when the key is too long or the cache is full. */
  admit(key: string): CachedKey | undefined {
    if (this.#size >= MAX_CACHED_KEYS) {
      if (++this.#missesWhileFull >= MISSES_BEFORE_RESET) this.#reset();
      return undefined;
    }
    // A key's UTF-8 form takes at least one byte per UTF-16 unit.
    if (key.length > MAX_CACHED_KEY_BYTES - 2 || Buffer.byteLength(key, "utf8") > MAX_CACHED_KEY_BYTES - 2) {
      return undefined;
    }
    const size = writeStr(scratch, 0, key);
    const words = new Int32Array(Math.ceil(size / 4));
    for (let i = 0; i < words.length; i++) words[i] = scratchView.getInt32(4 * i, true);
    this.#size++;
    return new CachedKey(words, size, this);
  }

  #reset(): void {
    this.#root = new CachedKey(new Int32Array(0), 0, this);
    this.#size = 0;
    this.#missesWhileFull = 0;
  }
}
