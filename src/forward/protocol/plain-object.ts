/** Node started with `--disable-proto=throw` or `=delete` has no working `__proto__` accessor. */
const PROTO_ACCESSOR_WORKS = ((): boolean => {
  try {
    return ({} as { __proto__?: unknown }).__proto__ === Object.prototype;
  } catch {
    return false;
  }
})();

/**
 * True when `v` is a plain object: its prototype is `Object.prototype` (an object literal, `JSON.parse`) or null
 * (`Object.create(null)`). Asked of every record and of every object nested in one.
 *
 * `Object.getPrototypeOf` is a call into V8's runtime (about 8 ns); reading `__proto__` is folded by the optimizing
 * compiler into a load from the object's map, so it is read first. An own `__proto__` key (`JSON.parse` makes one
 * from `{"__proto__": 1}`) or a null prototype reads as something else, and `Object.getPrototypeOf` decides; only an
 * own `__proto__` property set to `Object.prototype` itself would pass, and such an object is encoded as the map of
 * its enumerable keys.
 */
export function isPlainObject(v: object): boolean {
  if (PROTO_ACCESSOR_WORKS && (v as { __proto__?: unknown }).__proto__ === Object.prototype) return true;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
