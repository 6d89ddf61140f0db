// Failed-login limiter per client address: after `maxFailures` failures within `windowMs`, credentialed
// requests from that address get 429 until the oldest of those failures leaves the window (a sliding window,
// so a steady guesser gets at most maxFailures tries per window). Successes do not reset the count: otherwise
// one valid credential would let an address keep guessing others. Anonymous requests are never limited.
export interface RateLimitOptions {
  maxFailures: number;
  windowMs: number;
  /** Addresses tracked at once; the least recently failing are forgotten first. */
  maxClients: number;
  now?: () => number;
}

export class FailedLoginLimiter {
  readonly #options: Required<RateLimitOptions>;
  /** Failure times per address, oldest first, at most maxFailures of them. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: RateLimitOptions) {
    this.#options = { now: Date.now, ...options };
  }

  #recent(address: string, now: number): number[] {
    const times = this.#failures.get(address);
    if (!times) return [];
    const recent = times.filter((t) => now - t < this.#options.windowMs);
    if (recent.length === 0) this.#failures.delete(address);
    else if (recent.length !== times.length) this.#failures.set(address, recent);
    return recent;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const now = this.#options.now();
    const recent = this.#recent(address, now);
    if (recent.length < this.#options.maxFailures) return 0;
    const oldest = recent[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.#options.windowMs - now) / 1000));
  }

  recordFailure(address: string): void {
    const now = this.#options.now();
    const recent = this.#recent(address, now);
    recent.push(now);
    while (recent.length > this.#options.maxFailures) recent.shift();
    // Re-insert so Map order is "least recently failing first" for eviction.
    this.#failures.delete(address);
    this.#failures.set(address, recent);
    while (this.#failures.size > this.#options.maxClients) {
      const oldest = this.#failures.keys().next();
      if (oldest.done) break;
      this.#failures.delete(oldest.value);
    }
  }

  get trackedClients(): number {
    return this.#failures.size;
  }
}
