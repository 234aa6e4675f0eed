import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isPlainObject } from "../../src/forward/protocol/plain-object.js";

class Access {
  path = "/";
}

test("plain objects: literals, JSON.parse output (an own __proto__ key included) and null-prototype objects", () => {
  assert.equal(isPlainObject({ a: 1 }), true);
  assert.equal(isPlainObject(JSON.parse('{"a": {"b": 2}}') as object), true);
  const ownProto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as object;
  assert.equal(Object.hasOwn(ownProto, "__proto__"), true);
  assert.equal(isPlainObject(ownProto), true);
  const bare = Object.create(null) as Record<string, unknown>;
  bare.a = 1;
  assert.equal(isPlainObject(bare), true);
});

test("not plain: class instances, arrays, Maps, Dates, Buffers, objects whose prototype is another object", () => {
  for (const v of [
    new Access(),
    [],
    new Map(),
    new Date(),
    Buffer.from("x"),
    Object.create({ inherited: 1 }),
  ]) {
    assert.equal(isPlainObject(v as object), false, Object.prototype.toString.call(v));
  }
  // An own __proto__ key that names another object does not make a class instance plain.
  const disguised = new Access();
  Object.defineProperty(disguised, "__proto__", { value: { not: "Object.prototype" }, enumerable: true });
  assert.equal(isPlainObject(disguised), false);
});

const here = fileURLToPath(new URL(".", import.meta.url));
for (const flag of ["--disable-proto=throw", "--disable-proto=delete"]) {
  test(`under node ${flag} the same answers (Object.getPrototypeOf decides)`, () => {
    const script = `
      import { isPlainObject } from "../../src/forward/protocol/plain-object.ts";
      class Access {}
      const bare = Object.create(null);
      console.log(JSON.stringify([isPlainObject({ a: 1 }), isPlainObject(bare), isPlainObject(new Access()), isPlainObject([])]));
    `;
    const out = execFileSync(
      process.execPath,
      [flag, "--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: here,
        encoding: "utf8",
      },
    );
    assert.deepEqual(JSON.parse(out) as boolean[], [true, true, false, false]);
  });
}
