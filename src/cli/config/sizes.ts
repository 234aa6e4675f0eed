/** What a size setting accepts, for error messages and help. */
export const SIZE_SYNTAX = "a size such as 65536, 512KiB, 64MiB or 1GiB (KB/MB/GB are powers of 1000)";

const UNIT_BYTES: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};

/**
 * Parses `65536`, `512KiB`, `64MiB`, `1GiB`, `100MB` into whole bytes (units are case-insensitive).
 * Returns undefined when the text is not a size.
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_BYTES[(match[2] as string).toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) return undefined;
  return bytes;
}

/** Formats bytes with the largest binary unit that divides them (`67108864` → `64MiB`). */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
