/**
 * Delta debugging (Zeller's ddmin): the shortest sublist of `items`, in order, for which `fails` still holds,
 * found by dropping chunks, then single items, until no single item can go. `budget` bounds the runs.
 */
export async function shrink<T>(
  items: readonly T[],
  fails: (candidate: readonly T[]) => Promise<boolean>,
  budget: number,
): Promise<{ readonly items: readonly T[]; readonly runs: number }> {
  let current = items;
  let chunks = 2;
  let runs = 0;
  while (current.length >= 2 && runs < budget) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let start = 0; start < current.length && runs < budget; start += size) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      runs += 1;
      if (await fails(candidate)) {
        current = candidate;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (chunks >= current.length) break;
      chunks = Math.min(current.length, chunks * 2);
    }
  }
  return { items: current, runs };
}
