// The notification health controller against a real kube-apiserver and a real registry on loopback with token
// auth, one live webhook receiver and one port nobody listens on: a Ready registry with enabled endpoints gets
// status.notifications (the live endpoint healthy with its sends, the dead one failing with a short reason, the
// pod that answered); a registry without notifications gets none; removing spec.notifications removes
// status.notifications and leaves another manager's status fields. Only this controller runs (no kubelet, no
// registry reconciler: the test itself says which registry is Ready).
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { setupNotificationsController } from '../../operator/operations/notifications/controller.ts';
import type { KubeClient } from '../../operator/runtime/kube-client.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import type { NotificationsStatus } from '../../operator/api/index.ts';
import type { ControlPlane } from '../harness/control-plane.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor } from '../harness/wait.ts';
import { pushBlobAs } from '../registry/auth-client.ts';
import { startReceiver, type Receiver } from '../notifications/receiver.ts';
import { startNotifyingRegistry, type NotifyingRegistry } from '../notifications/registry.ts';
import { startTokenAuth, type TokenAuth } from '../notifications/token-auth.ts';
import { applyTestRegistry, group, setReady, startControlPlaneWithCrds } from './status-harness.ts';

const ns = 'notify';

type Registry = KubeObject & {
  status?: { notifications?: NotificationsStatus; conditions?: { type: string; status: string }[] };
};

const hooks = {
  endpoints: [
    { name: 'live', url: 'http://hooks.example/live' },
    { name: 'dead', url: 'http://hooks.example/dead' },
  ],
};

describe('notification health controller (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  let manager: Manager | undefined;
  let auth: TokenAuth | undefined;
  let live: Receiver | undefined;
  let berth: NotifyingRegistry | undefined;

  const k = (): KubeClient => {
    assert.ok(client);
    return client;
  };
  const getRegistry = (name: string) =>
    k().get<Registry>({ apiVersion: group, kind: 'ContainerRegistry', namespace: ns, name });
  const applyRegistry = (name: string, notifications?: typeof hooks) =>
    applyTestRegistry<Registry>(k(), ns, name, notifications ? { notifications } : {});
  const createReadyRegistry = async (name: string, notifications?: typeof hooks): Promise<void> => {
    await setReady(k(), await applyRegistry(name, notifications), true);
  };

  before(
    async () => {
      auth = await startTokenAuth();
      live = await startReceiver();
      const deadPort = await freePort();
      berth = await startNotifyingRegistry(
        [
          { name: 'live', url: `${live.url}/events`, threshold: 1, backoff: '50ms' },
          { name: 'dead', url: `http://127.0.0.1:${String(deadPort)}/events`, threshold: 1, backoff: '50ms' },
        ],
        {},
        undefined,
        { auth: auth.config },
      );
      const push = await auth.token([{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
      for (let i = 0; i < 2; i++) {
        const res = await pushBlobAs(berth.url, 'team/app', Buffer.from(`status ${String(i)}`), push);
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }

      ({ cp, client } = await startControlPlaneWithCrds(ns));
      await createReadyRegistry('hooked', hooks);
      await createReadyRegistry('plain');

      manager = new Manager({ client, logger: pino({ level: 'silent' }), leaderElection: false });
      const registryUrl = berth.url;
      const tokens = auth;
      setupNotificationsController(manager, {
        // Both would be answered by the same registry: only the one with notifications gets a status.
        registryUrl: () => registryUrl,
        tokenSigner: () => Promise.resolve((access) => tokens.token(access)),
        pollMs: 500,
      });
      manager.start();
    },
    { timeout: 240_000 },
  );

  after(async () => {
    await manager?.stop();
    client?.close();
    await cp?.stop();
    await berth?.close();
    await live?.close();
    await auth?.close();
  });

  it('writes the health of each endpoint of a Ready registry into its status', async () => {
    const status = await waitFor('status.notifications with both sends and a failure', async () => {
      const notifications = (await getRegistry('hooked'))?.status?.notifications;
      const byName = new Map(notifications?.endpoints.map((e) => [e.name, e]));
      return byName.get('live')?.sent === 2 && byName.get('dead')?.lastFailure !== undefined
        ? notifications
        : undefined;
    });
    assert.equal(status.pod, hostname());
    assert.ok(Math.abs(Date.parse(status.checkedAt) - Date.now()) < 60_000);
    const [healthy, dead] = status.endpoints;
    assert.deepEqual(healthy, { name: 'live', healthy: true, pending: 0, sent: 2, failed: 0, dropped: 0 });
    assert.ok(dead);
    const { failed, failingSince, ...rest } = dead;
    assert.deepEqual(rest, {
      name: 'dead',
      healthy: false,
      pending: 2,
      sent: 0,
      dropped: 0,
      lastFailure: 'ECONNREFUSED',
    });
    assert.ok(failed >= 1);
    assert.ok(failingSince !== undefined && Date.parse(failingSince) <= Date.now());
    assert.equal(
      (await getRegistry('plain'))?.status?.notifications,
      undefined,
      'no notifications, no status',
    );
    const wide = await cp?.kubectl(['get', 'creg', '-n', ns, '-o', 'wide']);
    const [header = '', ...rows] = wide?.stdout.split('\n') ?? [];
    const at = header.indexOf('FAILING HOOKS');
    assert.ok(at > 0, header);
    const row = rows.find((line) => line.startsWith('hooked ')) ?? '';
    assert.equal(row.slice(at).split(/\s+/)[0], 'dead', 'the printer column names the failing endpoint');
  });

  it('removes status.notifications once notifications are no longer configured', async () => {
    await applyRegistry('hooked');
    await waitFor('status.notifications to go', async () =>
      (await getRegistry('hooked'))?.status?.notifications === undefined ? true : undefined,
    );
    const conditions = (await getRegistry('hooked'))?.status?.conditions ?? [];
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status]),
      [['Ready', 'True']],
      'another manager’s status fields stay',
    );
  });
});
