// An endpoint that accepts connections and never answers costs pushes nothing: they complete while it hangs,
// each event is given up after `maxretries` and counted, and the queue never grows past its limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { pushImage } from '../registry/client.ts';
import { EndpointQueue } from '../../registry/notifications/endpoint-queue.ts';
import { createNotificationMetrics } from '../../registry/notifications/metrics.ts';
import { completeEvent } from '../../registry/notifications/envelope.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount, type NotifyingRegistry } from './registry.ts';

describe('an endpoint that never answers', () => {
  let receiver: Receiver;
  let berth: NotifyingRegistry;
  before(async () => {
    receiver = await startReceiver({ mode: 'hang' });
    berth = await startNotifyingRegistry([
      {
        name: 'hook',
        url: `${receiver.url}/events`,
        timeout: '100ms',
        threshold: 0,
        backoff: '10ms',
        maxretries: 1,
      },
    ]);
  });
  after(async () => {
    await berth.close();
    await receiver.close();
  });

  it('does not hold up pushes, and drops each event after maxretries', async () => {
    // Three events per image (config, layer, manifest): 15 in all, every one of them retried once.
    for (let i = 0; i < 5; i++) await pushImage(berth.url, 'hang/app', `v${i}`, [Buffer.from(`layer ${i}`)]);

    const dropped = 'registry_notifications_dropped_total{endpoint="hook",reason="retries"}';
    await waitForCount('events dropped after maxretries', () => berth.metric(dropped), 15);
    assert.equal(await berth.metric(dropped), 15);
    // Two attempts for each event: the first and one retry.
    assert.equal(await berth.metric('registry_notifications_failed_total{endpoint="hook"}'), 30);
    assert.equal(receiver.requests, 30, 'each attempt reached the endpoint and was left hanging');
    assert.equal(await berth.metric('registry_notifications_pending{endpoint="hook"}'), 0);
    assert.equal(await berth.metric('registry_notifications_sent_total{endpoint="hook"}'), 0);
  });
});

describe('the queue of an endpoint that never answers', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver({ mode: 'hang' });
  });
  after(() => receiver.close());

  it('holds at most its limit, counts what it dropped, and gives up on close', async () => {
    const metrics = new MetricsRegistry();
    const counters = createNotificationMetrics(metrics);
    const queue = new EndpointQueue(
      {
        name: 'hook',
        url: `${receiver.url}/events`,
        headers: {},
        timeoutMs: 60_000,
        threshold: 10,
        backoffMs: 10,
        maxRetries: undefined,
        queueLimit: 5,
      },
      counters,
      pino({ level: 'silent' }),
    );
    const source = { addr: 'test:5000', instanceID: '00000000-0000-4000-8000-000000000000' };
    const request = { id: 'r', addr: '127.0.0.1:1', host: 'h', method: 'POST', useragent: 'test' };
    const publish = (i: number) =>
      queue.push(
        completeEvent({ action: 'push', target: { repository: `r${i}` }, request, actor: {} }, source),
      );
    publish(0);
    await waitForCount('the first delivery to be under way', () => receiver.requests, 1);
    for (let i = 1; i <= 50; i++) publish(i);
    // The event being sent stays; of the rest only the newest four fit.
    assert.equal(queue.pending, 5);
    const sample = async (name: string, labels: Record<string, string>) =>
      (await metrics.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, l]) => v.labels[k] === l),
      )?.value;
    assert.equal(await sample('registry_notifications_dropped_total', { reason: 'overflow' }), 46);
    assert.equal(await sample('registry_notifications_pending', { endpoint: 'hook' }), 5);

    await queue.close(50);
    assert.equal(queue.pending, 0);
    assert.equal(await sample('registry_notifications_dropped_total', { reason: 'shutdown' }), 5);
    assert.equal(await sample('registry_notifications_sent_total', { endpoint: 'hook' }), 0);
  });
});
