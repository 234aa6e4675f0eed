/** Runs `fn` over `items` with at most `limit` calls in flight; resolves when all are done. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Math.min(limit, items.length);
  const runners: Promise<void>[] = [];
  for (let lane = 0; lane < lanes; lane++) {
    runners.push(
      (async () => {
        while (next < items.length) await fn(items[next++] as T);
      })(),
    );
  }
  await Promise.all(runners);
}
