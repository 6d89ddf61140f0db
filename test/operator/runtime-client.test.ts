// operator/runtime's client and status helpers against the real kube-apiserver: server-side apply under one
// field manager, a no-op apply that leaves the resourceVersion alone, status through the status subresource,
// conditions whose lastTransitionTime moves only on flips, typed errors.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { KubeClient, ResourceClient } from '../../operator/runtime/kube-client.ts';
import { isConflict, isNotFound, ApiError, RuntimeError } from '../../operator/runtime/errors.ts';
import { setConditions, writeStatus, findCondition } from '../../operator/runtime/conditions.ts';
import type { Condition, KubeObject } from '../../operator/runtime/objects.ts';

const step = { timeout: 180_000 };
const ns = 'rt-client';

const gizmoCrd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.test.berth.dev
spec:
  group: test.berth.dev
  scope: Namespaced
  names: { plural: gizmos, singular: gizmo, kind: Gizmo, listKind: GizmoList }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer }
            status:
              type: object
              properties:
                observedGeneration: { type: integer }
                conditions:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [type]
                  items:
                    type: object
                    required: [type, status]
                    properties:
                      type: { type: string }
                      status: { type: string }
                      reason: { type: string }
                      message: { type: string }
                      lastTransitionTime: { type: string, format: date-time }
                      observedGeneration: { type: integer }
`;

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Gizmo extends KubeObject {
  spec?: { size?: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

describe('runtime client (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  const report = failureReport();

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', ns]);
    await cp.kubectl(['apply', '-f', '-'], { input: gizmoCrd });
    await cp.kubectl(['wait', '--for=condition=Established', 'crd/gizmos.test.berth.dev', '--timeout=60s']);
    client = KubeClient.load(cp.kubeconfigPath);
  }, step);
  afterEach(report.check);
  after(async () => {
    report.print({ 'control plane': cp });
    client?.close();
    await cp?.stop();
  });

  function k(): KubeClient {
    assert.ok(client, 'the control plane did not start');
    return client;
  }

  it(
    'server-side apply creates, updates, and a repeated apply is a no-op (resourceVersion unchanged)',
    step,
    async () => {
      const cms = new ResourceClient<ConfigMap>(k(), 'v1', 'ConfigMap');
      const desired = {
        metadata: { name: 'settings', namespace: ns, labels: { app: 'x' } },
        data: { mode: 'fast' },
      };
      const created = await cms.apply(desired);
      assert.deepEqual(created.data, { mode: 'fast' });
      const rv1 = created.metadata.resourceVersion;
      assert.ok(rv1);
      const managers = (created.metadata.managedFields ?? []) as { manager?: string; operation?: string }[];
      assert.ok(
        managers.some((m) => m.manager === 'berth-operator' && m.operation === 'Apply'),
        'the apply is recorded under the berth-operator field manager',
      );

      for (let i = 0; i < 3; i++) {
        const again = await cms.apply(desired);
        assert.equal(again.metadata.resourceVersion, rv1, 'an unchanged apply does not write');
      }
      const read = await cms.get('settings', ns);
      assert.equal(read?.metadata.resourceVersion, rv1);

      const changed = await cms.apply({ ...desired, data: { mode: 'slow' } });
      assert.notEqual(changed.metadata.resourceVersion, rv1);
      assert.deepEqual(changed.data, { mode: 'slow' });

      // Fields another manager owns are taken over (force) rather than failing.
      await cp?.kubectl([
        '-n',
        ns,
        'patch',
        'configmap',
        'settings',
        '--type=merge',
        '-p',
        '{"data":{"mode":"manual"}}',
      ]);
      const forced = await cms.apply({ ...desired, data: { mode: 'slow' } });
      assert.deepEqual(forced.data, { mode: 'slow' });
      // Without force, the conflict is reported as such.
      await cp?.kubectl([
        '-n',
        ns,
        'patch',
        'configmap',
        'settings',
        '--type=merge',
        '-p',
        '{"data":{"mode":"manual"}}',
      ]);
      await assert.rejects(cms.apply({ ...desired, data: { mode: 'slow' } }, { force: false }), (err) =>
        isConflict(err),
      );
    },
  );

  it('lists with pagination, gets, deletes, and reports typed errors', step, async () => {
    const cms = new ResourceClient<ConfigMap>(k(), 'v1', 'ConfigMap');
    for (let i = 0; i < 7; i++) {
      await cms.apply({
        metadata: { name: `page-${String(i)}`, namespace: ns, labels: { set: 'paged' } },
        data: {},
      });
    }
    const listed = await k().list<ConfigMap>('v1', 'ConfigMap', {
      namespace: ns,
      labelSelector: 'set=paged',
      limit: 3,
    });
    assert.equal(listed.items.length, 7, 'all pages are fetched');
    assert.ok(listed.items.every((i) => i.kind === 'ConfigMap' && i.apiVersion === 'v1'));
    assert.ok(listed.resourceVersion !== '');
    assert.equal(await cms.get('nope', ns), undefined);
    assert.equal(await cms.delete('page-0', ns), true);
    assert.equal(await cms.delete('page-0', ns), false, 'deleting a missing object is not an error');
    await assert.rejects(
      k().request('GET', `/api/v1/namespaces/${ns}/configmaps/missing`),
      (err) => err instanceof ApiError && isNotFound(err) && err.reason === 'NotFound',
    );
    await assert.rejects(
      k().resource('test.berth.dev/v1', 'Nonexistent'),
      (err) => err instanceof RuntimeError && err.code === 'K8S_UNKNOWN_KIND',
    );
  });

  it(
    'writes status through the status subresource; conditions flip times only on status changes',
    step,
    async () => {
      const gizmos = new ResourceClient<Gizmo>(k(), 'test.berth.dev/v1', 'Gizmo');
      let g = await gizmos.apply({ metadata: { name: 'one', namespace: ns }, spec: { size: 1 } });
      assert.equal(g.metadata.generation, 1);

      const t1 = new Date('2030-01-01T00:00:00Z');
      let conditions = setConditions(
        g.status?.conditions,
        [{ type: 'Ready', status: false, reason: 'Waiting', message: 'waiting for things' }],
        g.metadata.generation,
        t1,
      );
      assert.equal(
        await writeStatus(k(), g, { observedGeneration: g.metadata.generation, conditions }),
        true,
      );
      g = (await gizmos.get('one', ns)) ?? assert.fail('gone');
      assert.equal(findCondition(g.status?.conditions, 'Ready')?.lastTransitionTime, '2030-01-01T00:00:00Z');
      assert.equal(g.metadata.generation, 1, 'a status write does not bump the generation');
      assert.deepEqual(g.spec, { size: 1 }, 'the status write leaves the spec alone');
      const rv = g.metadata.resourceVersion;

      // Same status again: nothing is written.
      conditions = setConditions(
        g.status?.conditions,
        [{ type: 'Ready', status: false, reason: 'Waiting', message: 'waiting for things' }],
        g.metadata.generation,
        new Date('2030-01-01T00:05:00Z'),
      );
      assert.equal(await writeStatus(k(), g, { observedGeneration: 1, conditions }), false);
      assert.equal((await gizmos.get('one', ns))?.metadata.resourceVersion, rv);

      // A new reason with the same status keeps the transition time; a flip moves it.
      conditions = setConditions(
        g.status?.conditions,
        [{ type: 'Ready', status: false, reason: 'StillWaiting', message: 'still' }],
        1,
        new Date('2030-01-01T00:06:00Z'),
      );
      assert.equal(findCondition(conditions, 'Ready')?.lastTransitionTime, '2030-01-01T00:00:00Z');
      conditions = setConditions(
        conditions,
        [{ type: 'Ready', status: true, reason: 'Available', message: 'ok' }],
        1,
        new Date('2030-01-01T00:07:00Z'),
      );
      assert.equal(findCondition(conditions, 'Ready')?.lastTransitionTime, '2030-01-01T00:07:00Z');
      assert.equal(findCondition(conditions, 'Ready')?.observedGeneration, 1);
      assert.equal(await writeStatus(k(), g, { observedGeneration: 1, conditions }), true);
      g = (await gizmos.get('one', ns)) ?? assert.fail('gone');
      assert.equal(findCondition(g.status?.conditions, 'Ready')?.status, 'True');

      // Status sent to the main resource is ignored by the API server (the subresource is the only way in).
      await gizmos.apply({
        metadata: { name: 'one', namespace: ns },
        spec: { size: 1 },
        status: { observedGeneration: 99 },
      });
      g = (await gizmos.get('one', ns)) ?? assert.fail('gone');
      assert.equal(g.status?.observedGeneration, 1);
    },
  );
});
