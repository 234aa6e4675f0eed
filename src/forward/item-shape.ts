import type { EventRecord, ForwardItem } from "../item.js";

/** True for a record the sink sends: an object whose prototype is Object.prototype or null. */
export function isPlainRecord(value: unknown): value is EventRecord {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True for an item written to the sink as a Writable: `{ tag: non-empty string, record: plain object }`. */
export function isForwardItem(item: unknown): item is ForwardItem {
  return (
    typeof item === "object" &&
    item !== null &&
    typeof (item as ForwardItem).tag === "string" &&
    (item as ForwardItem).tag.length > 0 &&
    isPlainRecord((item as ForwardItem).record)
  );
}
