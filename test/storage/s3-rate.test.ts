// The request-rate limiter behind `maxrequestspersecond`: request starts are spaced 1/N apart with no burst,
// in the order callers asked, so no window of one second ever holds more than N starts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestRateLimiter } from '../../registry/storage/s3-rate.ts';

describe('RequestRateLimiter', () => {
  it('spaces concurrent callers 1/N apart, first come first served', async () => {
    const limiter = new RequestRateLimiter(100);
    const started: { id: number; at: number }[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 40 }, async (_, id) => {
        await limiter.acquire();
        started.push({ id, at: performance.now() - t0 });
      }),
    );
    assert.deepEqual(
      started.map((s) => s.id),
      Array.from({ length: 40 }, (_, i) => i),
    );
    for (const [i, s] of started.entries()) {
      // Each start is at or after its slot (i × 10 ms); timers never fire early.
      assert.ok(s.at >= i * 10 - 0.5, `caller ${i} started at ${s.at.toFixed(2)} ms, before its slot`);
    }
  });

  it('does not save up unused time for a burst', async () => {
    const limiter = new RequestRateLimiter(50);
    await limiter.acquire();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await limiter.acquire();
    // After an idle spell only the first call is free; the rest wait their 20 ms each.
    assert.ok(performance.now() - t0 >= 4 * 20 - 1);
  });

  it('refuses a rate that is not positive', () => {
    assert.throws(() => new RequestRateLimiter(0), RangeError);
    assert.throws(() => new RequestRateLimiter(-1), RangeError);
  });
});
