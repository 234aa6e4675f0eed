/**
 * The suite's seeded fuzzing: a small PRNG, and a loop that runs cases for FUZZ_SECONDS (default 3 in `npm test`;
 * `npm run fuzz` runs minutes) from FUZZ_SEED (default 1). A failure names the seed and the case, to replay it.
 */

/** Seconds each fuzz test runs. */
export const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
/** The seed of the first case; case n uses FUZZ_SEED + n. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 1);

/** A seeded generator of numbers in [0, 1) with helpers to pick. */
export interface Rng {
  (): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One of `items`. */
  pick<T>(items: readonly T[]): T;
  /** `n` random bytes. */
  bytes(n: number): Buffer;
}

/** mulberry32: small, fast, and enough to replay a case from its seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.int = (n) => Math.floor(next() * n);
  next.pick = (items) => items[next.int(items.length)]!;
  next.bytes = (n) => Buffer.from(Array.from({ length: n }, () => next.int(256)));
  return next;
}

/**
 * Runs `fuzzCase(random, seed)` with seeds FUZZ_SEED, FUZZ_SEED + 1, … until FUZZ_SECONDS have passed (at least
 * `minCases` cases); rejects with the first failure, its message naming the seed and how to replay it.
 */
export async function fuzzCases(
  name: string,
  fuzzCase: (random: Rng, seed: number) => Promise<void> | void,
  minCases = 5,
): Promise<number> {
  const end = Date.now() + FUZZ_SECONDS * 1000;
  let cases = 0;
  for (let seed = FUZZ_SEED; cases < minCases || Date.now() < end; seed++, cases++) {
    try {
      await fuzzCase(rng(seed), seed);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${name}: case ${cases} failed with seed ${seed} (replay: FUZZ_SEED=${seed} FUZZ_SECONDS=0): ${message}`,
        { cause: err },
      );
    }
  }
  return cases;
}
