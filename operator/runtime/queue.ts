// A work queue of string keys (`namespace/name`) for level-triggered controllers:
//
// - dedupe: a key that is already waiting is not queued twice, however many events arrive;
// - per-key exclusivity: a key being processed is never handed to a second worker; if it is added meanwhile it
//   is marked dirty and queued again when the first worker calls `done`;
// - `addAfter`: delayed adds (the earliest wins);
// - `addRateLimited`: for failures, a per-key exponential backoff with jitter, combined with an overall token
//   bucket so a burst of failing keys cannot hammer the API server; `forget` resets a key's backoff.

export interface BackoffOptions {
  /** First retry delay (default 500 ms); doubles on every failure. */
  baseDelayMs?: number;
  /** Cap (default 5 min). */
  maxDelayMs?: number;
  /** ± fraction of randomness applied to each delay (default 0.2). */
  jitter?: number;
}

export interface RateLimitOptions {
  /** Sustained rate of rate-limited adds per second (default 10). */
  qps?: number;
  /** Bucket size (default 100). */
  burst?: number;
}

export interface WorkQueueOptions {
  backoff?: BackoffOptions;
  rateLimit?: RateLimitOptions;
  /** Called whenever the depth (keys waiting, not counting delayed ones) changes. */
  onDepth?: (depth: number) => void;
  /** Injectable clock/random for tests. */
  now?: () => number;
  random?: () => number;
}

/** Exponential backoff with jitter: base·2^(n-1), capped, then multiplied by 1 ± jitter. */
export function backoffDelay(
  failures: number,
  opts: BackoffOptions = {},
  random: () => number = Math.random,
) {
  const base = opts.baseDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 300_000;
  const jitter = opts.jitter ?? 0.2;
  const raw = Math.min(max, base * 2 ** Math.max(0, Math.min(failures - 1, 40)));
  const factor = 1 + jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(max, raw * factor));
}

/** A token bucket: how long a caller must wait for its token (reserving it). */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = Date.now) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  /** Takes a token; returns the ms until it is actually available (0 if it was there already). */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failureCounts = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly bucket: TokenBucket;
  private readonly opts: WorkQueueOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private shuttingDown = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.bucket = new TokenBucket(opts.rateLimit?.qps ?? 10, opts.rateLimit?.burst ?? 100, this.now);
  }

  /** Keys waiting to be handed out (delayed keys not counted). */
  get depth(): number {
    return this.queue.length;
  }

  /** Keys whose delayed add has not fired yet. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  get processingCount(): number {
    return this.processing.size;
  }

  get isShutDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues `key` now (no-op if it is already waiting; marked dirty if it is being processed). */
  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.queued.has(key)) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.opts.onDepth?.(this.queue.length);
  }

  /** Queues `key` after `ms`; if it is already scheduled later, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + ms;
    const existing = this.delayed.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Queues `key` after its backoff (which grows with each call until `forget`). Returns the delay. */
  addRateLimited(key: string): number {
    const failures = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, failures);
    const delay = Math.max(backoffDelay(failures, this.opts.backoff, this.random), this.bucket.reserve());
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets `key`'s backoff (after a success, or a permanent failure that should not be retried). */
  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  /** Drops a pending delayed add of `key` (e.g. its object was deleted). */
  cancelDelayed(key: string): void {
    const d = this.delayed.get(key);
    if (d) {
      clearTimeout(d.timer);
      this.delayed.delete(key);
    }
  }

  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /** The next key (now marked as processing), or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      this.opts.onDepth?.(this.queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as finished; a dirty key (added while it was processed) is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
    if (this.processing.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Stops handing out keys; pending waiters get undefined. Keys being processed may still call done. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Resolves when no key is being processed. */
  drained(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs `concurrency` workers until shutdown. The worker's outcome decides what happens to the key:
   * throw → retried with backoff; `{ requeueAfterMs }` → queued again after that; otherwise forgotten.
   */
  async run(
    worker: (key: string) => Promise<{ requeueAfterMs?: number } | undefined>,
    concurrency = 1,
    onError?: (key: string, err: unknown, retryInMs: number) => void,
  ): Promise<void> {
    const loop = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          const result = await worker(key);
          this.forget(key);
          if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
        } catch (err) {
          const delay = this.addRateLimited(key);
          onError?.(key, err, delay);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, loop));
  }
}
