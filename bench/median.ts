/** The median of `values` (the upper one of the two middle values for an even count); the benchmarks report it. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
