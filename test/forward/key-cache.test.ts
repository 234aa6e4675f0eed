import { test } from "node:test";
import assert from "node:assert/strict";
import { Packr } from "msgpackr";
import {
  KeyCache,
  MAX_CACHED_KEYS,
  MAX_CACHED_KEY_BYTES,
  MISSES_BEFORE_RESET,
  type CachedKey,
} from "../../src/forward/protocol/key-cache.js";

const msgpackr = new Packr({ useRecords: false });

/** The bytes a CachedKey writes: its words, little-endian, cut to its size. */
function bytesOf(cached: CachedKey): Buffer {
  const out = Buffer.alloc(cached.words.length * 4);
  cached.words.forEach((word, i) => out.writeInt32LE(word, 4 * i));
  return out.subarray(0, cached.size);
}

test("a cached key holds the key's msgpack bytes, for every length up to the limit and any script", () => {
  const cache = new KeyCache();
  const keys = ["", "a", "ab", "abc", "abcd", "abcde", "x".repeat(31), "x".repeat(32), "y".repeat(62)];
  keys.push("héllo", "☃".repeat(10), "☃".repeat(20), "🚀".repeat(15), "キー");
  for (const key of keys) {
    const cached = cache.root.next(key);
    assert.ok(cached, `${JSON.stringify(key)} is cached`);
    assert.deepEqual(bytesOf(cached), msgpackr.pack(key), JSON.stringify(key));
  }
});

test("a key longer than MAX_CACHED_KEY_BYTES in msgpack is not cached and takes no room", () => {
  const cache = new KeyCache();
  for (const key of [
    "y".repeat(MAX_CACHED_KEY_BYTES - 1),
    "☃".repeat(21),
    "🚀".repeat(16),
    "z".repeat(70_000),
  ]) {
    assert.ok(msgpackr.pack(key).length > MAX_CACHED_KEY_BYTES);
    assert.equal(cache.root.next(key), undefined, `${key.length} UTF-16 units`);
  }
  assert.equal(cache.size, 0);
});

test("the same key after different keys is cached once per place; the same place gives the same entry", () => {
  const cache = new KeyCache();
  const a = cache.root.next("a")!;
  const b = cache.root.next("b")!;
  const idAfterA = a.next("id")!;
  const idAfterB = b.next("id")!;
  assert.notEqual(idAfterA, idAfterB);
  assert.deepEqual(bytesOf(idAfterA), bytesOf(idAfterB));
  assert.equal(cache.root.next("a"), a);
  assert.equal(a.next("x"), a.next("x"));
  assert.equal(a.next("id"), idAfterA, "found again after another key took the last place");
  assert.equal(cache.size, 5);
});

test("the cache never holds more than MAX_CACHED_KEYS keys, and keeps the ones it has when full", () => {
  const cache = new KeyCache();
  const first = cache.root.next("first")!;
  for (let i = 0; i < 3 * MAX_CACHED_KEYS; i++) {
    cache.root.next(`id-${i}`);
    assert.ok(cache.size <= MAX_CACHED_KEYS, `after ${i + 1} distinct keys`);
  }
  assert.equal(cache.size, MAX_CACHED_KEYS);
  assert.equal(cache.root.next("first"), first);
  assert.equal(cache.root.next("never-seen"), undefined);
});

test("after MISSES_BEFORE_RESET keys a full cache could not take, it starts over and caches new keys", () => {
  const cache = new KeyCache();
  let i = 0;
  while (cache.size < MAX_CACHED_KEYS) cache.root.next(`id-${i++}`);
  const oldRoot = cache.root;
  for (let miss = 1; miss < MISSES_BEFORE_RESET; miss++) {
    assert.equal(cache.root.next(`id-${i++}`), undefined);
  }
  assert.equal(cache.root, oldRoot, "one miss before starting over");
  assert.equal(cache.root.next(`id-${i++}`), undefined);
  assert.notEqual(cache.root, oldRoot);
  assert.equal(cache.size, 0);
  const fresh = cache.root.next("uwsgi");
  assert.ok(fresh);
  assert.deepEqual(bytesOf(fresh), msgpackr.pack("uwsgi"));
});
