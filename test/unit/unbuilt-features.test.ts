// A spec field the API accepts but Berth does not act on yet is reported, not silently ignored: enabled
// notification endpoints make the registry Degraded with reason NotificationsNotDelivered, naming them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mustParseContainerRegistry } from '../../operator/api/parse.ts';
import { unbuiltFeatures } from '../../operator/reconcile/unbuilt-features.ts';

const registry = (notifications?: unknown) =>
  mustParseContainerRegistry({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team' },
    spec: {
      storage: { filesystem: { size: '1Gi' } },
      ...(notifications !== undefined ? { notifications } : {}),
    },
  });

describe('features accepted but not built', () => {
  it('no notifications, or only disabled endpoints: nothing to report', () => {
    assert.deepEqual(unbuiltFeatures(registry()), []);
    const off = { endpoints: [{ name: 'ci', url: 'https://hooks.example/ci', disabled: true }] };
    assert.deepEqual(unbuiltFeatures(registry(off)), []);
  });

  it('enabled notification endpoints: a NotificationsNotDelivered problem naming them', () => {
    const on = {
      endpoints: [
        { name: 'ci', url: 'https://hooks.example/ci' },
        { name: 'audit', url: 'https://hooks.example/audit' },
      ],
    };
    const [problem, ...rest] = unbuiltFeatures(registry(on));
    assert.equal(rest.length, 0);
    assert.equal(problem?.reason, 'NotificationsNotDelivered');
    assert.match(problem?.message ?? '', /spec\.notifications: .*not built yet.*ci, audit/);
  });
});
