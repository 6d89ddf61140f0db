// Bounded concurrency for garbage collection and upload purging. Two tools:
//
// - `Limiter` caps how many storage operations are in flight at once. Only leaf operations (one driver call)
//   run through it and a task never waits for another limited task while holding a slot, so it cannot
//   deadlock however the callers nest.
// - `forEachConcurrent` runs a function over an (async) iterable with at most N calls pending, pulling items
//   lazily, so a million-entry listing never becomes a million pending promises.

export class Limiter {
  readonly max: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`concurrency must be >= 1, got ${max}`);
    this.max = max;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; `active` only drops when nobody waits.
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Calls `fn` for every item with at most `concurrency` calls pending. The first error stops new calls from
 * starting; it is thrown once the calls already running have settled (so nothing runs on after it returns).
 */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let failed = false;
  let error: unknown;
  let done = false;
  // Async iterators must not be pulled concurrently: pulls are serialised through this chain.
  let pulling: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<T>> => {
    const result = pulling.then(() => iterator.next());
    pulling = result.catch(() => undefined);
    return result;
  };
  const worker = async (): Promise<void> => {
    while (!failed && !done) {
      const step = await next();
      if (step.done) {
        done = true;
        return;
      }
      try {
        await fn(step.value);
      } catch (err) {
        if (!failed) {
          failed = true;
          error = err;
        }
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, concurrency) }, () =>
    worker().catch((err: unknown) => {
      if (!failed) {
        failed = true;
        error = err;
      }
    }),
  );
  await Promise.all(workers);
  if (failed) {
    await iterator.return?.();
    throw error;
  }
}
