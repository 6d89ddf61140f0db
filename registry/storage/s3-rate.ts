// A client-side bound on the S3 request rate (`maxrequestspersecond`). Callers queue in order and are released
// one at a time, each at least 1/N seconds after the previous one was actually released: a late timer (a busy
// event loop) pushes the following releases back instead of letting them bunch up, and unused time is never
// saved for a burst. Releases are spaced for 90% of N: the request reaches the wire (signing, the SDK's
// middleware) a variable moment after its release, and that headroom keeps any one-second window of *sent*
// requests at or under N even when those delays vary by up to ~100 ms.
const headroom = 0.9;

export class RequestRateLimiter {
  readonly perSecond: number;
  private readonly intervalMs: number;
  private readonly waiters: (() => void)[] = [];
  /** The earliest moment (performance.now()) the next caller may be released. */
  private nextRelease = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(perSecond: number) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError(`requests per second must be positive, got ${perSecond}`);
    }
    this.perSecond = perSecond;
    this.intervalMs = 1000 / (perSecond * headroom);
  }

  /** Resolves when the caller may send one request. Callers are served in the order they asked. */
  acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    for (let next = this.waiters[0]; next !== undefined; next = this.waiters[0]) {
      const now = performance.now();
      const wait = this.nextRelease - now;
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.ceil(wait));
        return;
      }
      this.waiters.shift();
      this.nextRelease = now + this.intervalMs;
      next();
    }
  }
}
