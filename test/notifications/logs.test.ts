// The log says when an endpoint starts failing and when it recovers, with its name and a short reason, and
// never the URL or a header value: either may carry a credential.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { pushBlob } from '../registry/client.ts';
import { startReceiver } from './receiver.ts';
import { startNotifyingRegistry, waitForCount } from './registry.ts';

describe('notification logs', () => {
  it('name the endpoint and the reason, never its URL or headers', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const receiver = await startReceiver({ mode: 'fail' });
    const berth = await startNotifyingRegistry(
      [
        {
          name: 'hook',
          url: `${receiver.url}/events?token=url-secret`,
          headers: { Authorization: ['Bearer header-secret'] },
          threshold: 1,
          backoff: '20ms',
        },
      ],
      {},
      logger,
    );
    try {
      await pushBlob(berth.url, 'logs/app', Buffer.from('logged'));
      await waitForCount('refused deliveries', () => receiver.requests, 2);
      receiver.mode = 'accept';
      await waitForCount('the delivered event', () => receiver.events().length, 1);
      await waitForCount(
        'the recovery log line',
        () => lines.filter((l) => l.includes('notification endpoint recovered')).length,
        1,
      );
    } finally {
      await berth.close();
      await receiver.close();
    }
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failing = records.filter((r) => r['msg'] === 'notification endpoint failing');
    assert.equal(failing.length, 1, 'one line per outage, not one per attempt');
    assert.equal(failing[0]?.['endpoint'], 'hook');
    assert.equal(failing[0]?.['reason'], 'status 500');
    const all = lines.join('\n');
    assert.doesNotMatch(all, /header-secret|url-secret/);
    assert.ok(
      all.includes(receiver.url.replace('http://', '')) === false,
      'the endpoint address is not logged',
    );
  });
});
