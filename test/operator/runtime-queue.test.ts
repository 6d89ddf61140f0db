// operator/runtime's work queue (dedupe, per-key exclusivity, backoff with jitter, rate limiting) and a
// controller driven by a real informer: rapid updates collapse, a key never runs twice at once, transient
// failures back off and then succeed.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { waitFor } from '../harness/wait.ts';
import { backoffDelay, TokenBucket, WorkQueue } from '../../operator/runtime/queue.ts';
import { KubeClient, ResourceClient } from '../../operator/runtime/kube-client.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import { createMetrics } from '../../operator/runtime/metrics.ts';
import { silentLogger } from '../../operator/runtime/logger.ts';
import { ApiError } from '../../operator/runtime/errors.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';

const step = { timeout: 180_000 };

describe('work queue', () => {
  it('dedupes waiting keys and holds back a key that is being processed', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add('ns/a');
    q.add('ns/b');
    assert.equal(q.depth, 2);
    assert.equal(await q.get(), 'ns/a');
    q.add('ns/a'); // while processing: marked dirty, not handed out
    assert.equal(q.depth, 1);
    assert.equal(await q.get(), 'ns/b');
    const third = q.get();
    const raced = await Promise.race([third, sleep(50, 'timeout')]);
    assert.equal(raced, 'timeout', 'ns/a is not handed out while a worker holds it');
    q.done('ns/a');
    assert.equal(await third, 'ns/a', 'the dirty key comes back after done');
    q.done('ns/a');
    q.done('ns/b');
    q.shutdown();
    assert.equal(await q.get(), undefined);
  });

  it('never runs one key on two workers, and coalesces adds made during a run', async () => {
    const q = new WorkQueue();
    const active = new Map<string, number>();
    let maxConcurrentSameKey = 0;
    let runs = 0;
    const worker = q.run(async (key) => {
      const n = (active.get(key) ?? 0) + 1;
      active.set(key, n);
      maxConcurrentSameKey = Math.max(maxConcurrentSameKey, n);
      runs++;
      await sleep(20);
      active.set(key, n - 1);
      return undefined;
    }, 4);
    for (let i = 0; i < 50; i++) {
      q.add('ns/hot');
      await sleep(1);
    }
    await waitFor('idle', async () => (q.depth === 0 && q.processingCount === 0 ? true : undefined));
    q.shutdown();
    await worker;
    assert.equal(maxConcurrentSameKey, 1);
    assert.ok(runs >= 2 && runs < 10, `50 adds over ~50 ms collapse into a few runs (got ${String(runs)})`);
  });

  it('backs off exponentially with bounded jitter and a cap', () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 0.2 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, () => 0.5)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
    assert.equal(
      backoffDelay(1, opts, () => 0),
      80,
    );
    assert.equal(
      backoffDelay(1, opts, () => 1),
      120,
    );
    assert.equal(
      backoffDelay(10, opts, () => 1),
      1_000,
      'jitter never exceeds the cap',
    );
    const samples = Array.from({ length: 200 }, () => backoffDelay(3, opts));
    assert.ok(samples.every((d) => d >= 320 && d <= 480));
    assert.ok(new Set(samples).size > 100, 'jitter spreads retries');
  });

  it('rate-limits retries with a token bucket on top of the per-key backoff', () => {
    let t = 0;
    const bucket = new TokenBucket(2, 3, () => t);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 0]);
    assert.equal(bucket.reserve(), 500);
    t += 1_000;
    assert.equal(bucket.reserve(), 0);

    const q = new WorkQueue({
      backoff: { baseDelayMs: 1, jitter: 0 },
      rateLimit: { qps: 1, burst: 1 },
      now: () => t,
    });
    assert.equal(q.addRateLimited('k1'), 1);
    assert.equal(q.addRateLimited('k2'), 1_000, 'the bucket is empty: the second retry waits for a token');
    assert.equal(q.failures('k1'), 1);
    q.forget('k1');
    assert.equal(q.failures('k1'), 0);
    q.shutdown();
  });

  it('retries a failing key with growing delays, then forgets it on success', async () => {
    const q = new WorkQueue({ backoff: { baseDelayMs: 40, jitter: 0 } });
    const at: number[] = [];
    const worker = q.run(async () => {
      at.push(Date.now());
      if (at.length <= 3) throw new Error('transient');
      return undefined;
    });
    q.add('ns/flaky');
    await waitFor('four attempts', async () => (at.length >= 4 ? true : undefined));
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    assert.ok(
      (gaps[0] ?? 0) >= 35 && (gaps[1] ?? 0) >= 75 && (gaps[2] ?? 0) >= 155,
      `gaps ${gaps.join(',')}`,
    );
    assert.equal(q.failures('ns/flaky'), 0, 'success resets the backoff');
    q.shutdown();
    await worker;
  });

  it('delayed adds keep the earliest time', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 5_000);
    q.addAfter('k', 30);
    q.addAfter('k', 10_000);
    assert.equal(q.delayedCount, 1);
    const got = await Promise.race([q.get(), sleep(1_000, 'timeout')]);
    assert.equal(got, 'k');
    q.shutdown();
  });
});

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

describe('controller on a real informer', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  const report = failureReport();
  const ns = 'rt-queue';

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', ns]);
    client = KubeClient.load(cp.kubeconfigPath);
  }, step);
  afterEach(report.check);
  after(async () => {
    report.print({ 'control plane': cp });
    client?.close();
    await cp?.stop();
  });

  it('collapses bursts, keeps keys exclusive, backs off transient failures', step, async (t) => {
    assert.ok(client);
    const metrics = createMetrics({ defaultMetrics: false });
    const manager = new Manager({ client, logger: silentLogger(), metrics, leaderElection: false });
    const informer = manager.informer<ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns });
    const calls = new Map<string, number>();
    const running = new Set<string>();
    let overlap = false;
    const controller = manager.addController({
      name: 'test',
      primary: informer,
      concurrency: 4,
      queue: { backoff: { baseDelayMs: 50, jitter: 0.1 } },
      reconcile: async (key) => {
        if (running.has(key)) overlap = true;
        running.add(key);
        try {
          const n = (calls.get(key) ?? 0) + 1;
          calls.set(key, n);
          await sleep(30);
          if (key.endsWith('/flaky') && n <= 3) {
            throw new ApiError({
              code: 'K8S_API_STATUS',
              status: 503,
              method: 'GET',
              path: '/x',
              message: 'unavailable',
            });
          }
          return {};
        } finally {
          running.delete(key);
        }
      },
    });
    manager.start();
    t.after(() => manager.stop());
    await waitFor('ready', async () => (manager.ready() ? true : undefined));

    const cms = new ResourceClient<ConfigMap>(client, 'v1', 'ConfigMap');
    await cms.apply({ metadata: { name: 'flaky', namespace: ns }, data: {} });
    for (let i = 0; i < 25; i++)
      await cms.apply({ metadata: { name: 'busy', namespace: ns }, data: { i: String(i) } });
    await waitFor('flaky succeeded', async () => ((calls.get(`${ns}/flaky`) ?? 0) >= 4 ? true : undefined), {
      timeoutMs: 20_000,
    });
    await waitFor('idle', async () => {
      const q = controller.queue;
      return q.depth === 0 && q.processingCount === 0 && q.delayedCount === 0 ? true : undefined;
    });
    await sleep(300);
    assert.equal(overlap, false, 'a key never ran twice at once');
    const busy = calls.get(`${ns}/busy`) ?? 0;
    assert.ok(busy >= 1 && busy < 25, `25 updates collapsed into ${String(busy)} reconciles`);
    assert.equal(calls.get(`${ns}/flaky`), 4, 'three failures, then one success, then quiet');

    const text = await metrics.registry.metrics();
    assert.match(text, /berth_operator_reconcile_total\{controller="test",result="error"\} 3/);
    assert.match(
      text,
      /berth_operator_reconcile_errors_total\{controller="test",code="K8S_API_STATUS:503"\} 3/,
    );
    assert.match(text, /berth_operator_queue_depth\{controller="test"\} 0/);
  });
});
