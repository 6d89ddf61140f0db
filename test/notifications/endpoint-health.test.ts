// GET /berth/v1/notifications on a real loopback registry with token auth, one live receiver and one port
// nobody listens on: the live endpoint is healthy with what it was sent, the dead one unhealthy with a short
// reason (never its URL), a disabled endpoint is not listed; the answer needs `registry:catalog:*`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  notificationsHealthResponseSchema,
  type EndpointHealth,
  type NotificationsHealthResponse,
} from '../../registry/http/notifications-api.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor } from '../harness/wait.ts';
import { bearer, parseChallenge, pushBlobAs } from '../registry/auth-client.ts';
import { startTestRegistry } from '../registry/server.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import { startNotifyingRegistry, type NotifyingRegistry } from './registry.ts';
import { catalogAccess, startTokenAuth, type TokenAuth } from './token-auth.ts';

const settings = { timeout: '2s', threshold: 1, backoff: '50ms' };

async function getHealth(url: string, token: string): Promise<NotificationsHealthResponse> {
  const res = await fetch(`${url}/berth/v1/notifications`, { headers: bearer(token) });
  assert.equal(res.status, 200);
  return notificationsHealthResponseSchema.parse(await res.json());
}

describe('notification endpoint health', () => {
  let auth: TokenAuth;
  let live: Receiver;
  let deadPort: number;
  let berth: NotifyingRegistry;

  before(async () => {
    auth = await startTokenAuth();
    live = await startReceiver();
    deadPort = await freePort();
    berth = await startNotifyingRegistry(
      [
        { name: 'live', url: `${live.url}/events`, ...settings },
        { name: 'dead', url: `http://127.0.0.1:${String(deadPort)}/events`, ...settings },
        { name: 'off', url: `${live.url}/off`, disabled: true },
      ],
      {},
      undefined,
      { auth: auth.config },
    );
  });

  after(async () => {
    await berth.close();
    await live.close();
    await auth.close();
  });

  it('reports the live endpoint healthy with its sends, the dead one failing with a reason', async () => {
    const push = await auth.token([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    for (let i = 0; i < 3; i++) {
      const res = await pushBlobAs(berth.url, 'team/app', Buffer.from(`health ${String(i)}`), push);
      assert.equal(res.status, 201);
      await res.body?.cancel();
    }
    const token = await auth.token(catalogAccess);
    const health = await waitFor('3 sends and 2 failed attempts', async () => {
      const answer = await getHealth(berth.url, token);
      const byName = new Map(answer.endpoints.map((e) => [e.name, e]));
      return byName.get('live')?.sent === 3 && (byName.get('dead')?.failed ?? 0) >= 2 ? answer : undefined;
    });

    assert.ok(health.pod.length > 0);
    assert.deepEqual(
      health.endpoints.map((e) => e.name),
      ['live', 'dead'],
      'the enabled endpoints, in config order',
    );
    const [healthy, dead] = health.endpoints as [EndpointHealth, EndpointHealth];
    const { lastSuccessTime, ...figures } = healthy;
    assert.deepEqual(figures, {
      name: 'live',
      healthy: true,
      pending: 0,
      sent: 3,
      failed: 0,
      dropped: 0,
      consecutiveFailures: 0,
    });
    assert.ok(lastSuccessTime && Date.parse(lastSuccessTime) <= Date.now());

    assert.equal(dead.healthy, false);
    assert.equal(dead.sent, 0);
    assert.equal(dead.dropped, 0);
    assert.equal(dead.pending, 3, 'retried, not given up');
    assert.ok(dead.consecutiveFailures >= 2);
    assert.equal(dead.lastFailure, 'ECONNREFUSED');
    assert.equal(dead.lastSuccessTime, undefined);
    assert.ok(dead.failingSince && Date.parse(dead.failingSince) <= Date.now());
    assert.ok(!JSON.stringify(health).includes(String(deadPort)), 'the answer names no endpoint URL');
  });

  it('without a token: 401 with a challenge for registry:catalog:*', async () => {
    const res = await fetch(`${berth.url}/berth/v1/notifications`);
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['scope'], 'registry:catalog:*');
    await res.body?.cancel();
  });

  it('with pull and push on a repository but not the catalog: 401 insufficient_scope', async () => {
    const token = await auth.token([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    const res = await fetch(`${berth.url}/berth/v1/notifications`, { headers: bearer(token) });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['error'], 'insufficient_scope');
    await res.body?.cancel();
  });
});

describe('notification endpoint health without notifications', () => {
  it('lists no endpoint', async () => {
    const registry = await startTestRegistry();
    try {
      const res = await fetch(`${registry.url}/berth/v1/notifications`);
      assert.equal(res.status, 200);
      const body = notificationsHealthResponseSchema.parse(await res.json());
      assert.deepEqual(body.endpoints, []);
    } finally {
      await registry.close();
    }
  });
});
