/**
 * Runs `task` for every item of every page with at most `limit` tasks in flight, reading the next page
 * only when a slot is free, so memory stays bounded by the page size and the limit, not the item count.
 * `task` must not reject: callers turn failures into values. If reading a page throws, the error is rethrown
 * once the tasks already started have settled.
 */
export async function runBounded<T>(
  pages: AsyncIterable<readonly T[]>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  let active = 0;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    active -= 1;
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wake = resolve));

  try {
    for await (const page of pages) {
      for (const item of page) {
        while (active >= limit) await slotFreed();
        active += 1;
        task(item).then(settle, settle);
      }
    }
  } finally {
    // Even when reading pages fails, tasks already started finish before this returns: a Lambda
    // that returned early would be frozen with their requests half done.
    while (active > 0) await slotFreed();
  }
}
