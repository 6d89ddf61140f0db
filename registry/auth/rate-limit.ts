// Failed-login limits, per account and client address.
//
// One login attempt often arrives as several requests: containerd, BuildKit and nerdctl POST the OAuth2 password
// grant and, on 401, GET the token again with the same Basic credentials; clients retry with stored credentials.
// So what counts is a distinct credential that failed: the same wrong secret again within the window is no new
// guess and is not counted again (only an HMAC of it under a per-process key is kept, never the secret).
//
// Two sliding windows (a steady guesser gets at most the limit per window):
//   - per account and address: after `maxFailures` distinct failed credentials within `windowMs`, that account
//     is refused from that address (429 with Retry-After) until the oldest failure leaves the window. Other
//     accounts, and the same account from other addresses, go on: one user's typos on 127.0.0.1 do not lock
//     out everyone else there;
//   - per address, all accounts together: `maxFailures * addressFactor`, against one password tried on many
//     accounts.
// A success clears that account's failures from that address (the right secret shows they were typos), not the
// per-address count. Anonymous requests are never limited. The counts live in memory: a restart clears them.
import { createHmac, randomBytes } from 'node:crypto';

export interface RateLimitOptions {
  maxFailures: number;
  windowMs: number;
  /** Keys tracked at once per window; the least recently failing are forgotten first. */
  maxClients: number;
  now?: () => number;
}

/** The per-address limit is this many times the per-account one. */
export const addressFactor = 10;

interface Failure {
  at: number;
  attempt: string;
}

/** Distinct failures per key within a sliding window. */
class FailureWindow {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  /** Failures per key, oldest first, at most #max of them; Map order is "least recently failing first". */
  readonly #failures = new Map<string, Failure[]>();

  constructor(max: number, windowMs: number, maxKeys: number) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  #recent(key: string, now: number): Failure[] {
    const failures = this.#failures.get(key);
    if (!failures) return [];
    const recent = failures.filter((f) => now - f.at < this.#windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else if (recent.length !== failures.length) this.#failures.set(key, recent);
    return recent;
  }

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string, now: number): number {
    const recent = this.#recent(key, now);
    if (recent.length < this.#max) return 0;
    const oldest = recent[0]?.at ?? now;
    return Math.max(1, Math.ceil((oldest + this.#windowMs - now) / 1000));
  }

  /** Counts the failure unless the same attempt already failed within the window; true when counted. */
  record(key: string, attempt: string, now: number): boolean {
    const recent = this.#recent(key, now);
    if (recent.some((f) => f.attempt === attempt)) return false;
    recent.push({ at: now, attempt });
    while (recent.length > this.#max) recent.shift();
    this.#failures.delete(key);
    this.#failures.set(key, recent);
    while (this.#failures.size > this.#maxKeys) {
      const oldest = this.#failures.keys().next();
      if (oldest.done) break;
      this.#failures.delete(oldest.value);
    }
    return true;
  }

  clear(key: string): void {
    this.#failures.delete(key);
  }

  get size(): number {
    return this.#failures.size;
  }
}

export class FailedLoginLimiter {
  readonly #now: () => number;
  readonly #perAccount: FailureWindow;
  readonly #perAddress: FailureWindow;
  readonly #attemptKey = randomBytes(32);

  constructor(options: RateLimitOptions) {
    this.#now = options.now ?? Date.now;
    this.#perAccount = new FailureWindow(options.maxFailures, options.windowMs, options.maxClients);
    this.#perAddress = new FailureWindow(
      options.maxFailures * addressFactor,
      options.windowMs,
      options.maxClients,
    );
  }

  static #key(client: string, account: string): string {
    return `${client}\n${account}`;
  }

  /** Seconds until `account` may try again from `client`, or 0 when it may now. */
  retryAfter(client: string, account: string): number {
    const now = this.#now();
    return Math.max(
      this.#perAccount.retryAfter(FailedLoginLimiter.#key(client, account), now),
      this.#perAddress.retryAfter(client, now),
    );
  }

  /** Records a failed login with `secret`; false when the same credential had already failed (not counted). */
  recordFailure(client: string, account: string, secret: string): boolean {
    const now = this.#now();
    const attempt = createHmac('sha256', this.#attemptKey)
      .update(account)
      .update('\0')
      .update(secret)
      .digest('base64url');
    const counted = this.#perAccount.record(FailedLoginLimiter.#key(client, account), attempt, now);
    this.#perAddress.record(client, attempt, now);
    return counted;
  }

  recordSuccess(client: string, account: string): void {
    this.#perAccount.clear(FailedLoginLimiter.#key(client, account));
  }

  /** Account-and-address pairs with recent failures. */
  get trackedClients(): number {
    return this.#perAccount.size;
  }
}
