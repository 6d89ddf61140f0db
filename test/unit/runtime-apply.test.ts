// The generic apply/prune of an owner's children (operator/runtime/apply.ts, prune.ts) against a fake API
// server: unchanged children are not sent again, a transient failure stops after its stage, a refusal is
// reported per child, and only the owner's unwanted children are deleted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildApplier, type CacheOfKind } from '../../operator/runtime/apply.ts';
import { ApiError, runtimeErrorCodes } from '../../operator/runtime/errors.ts';
import type { ObjectCache } from '../../operator/runtime/informer.ts';
import type { KubeClient } from '../../operator/runtime/kube-client.ts';
import { silentLogger } from '../../operator/runtime/logger.ts';
import { objectKey, type KubeObject, type ObjectRef } from '../../operator/runtime/objects.ts';
import { pruneChildren } from '../../operator/runtime/prune.ts';

const logger = silentLogger();

function obj(kind: string, name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, namespace: 'ns', ...extra } };
}

function apiError(status: number, reason: string): ApiError {
  return new ApiError({
    code: runtimeErrorCodes.apiStatus,
    status,
    method: 'PATCH',
    path: '/x',
    message: reason,
    body: { reason, message: `the server says ${reason}` },
  });
}

/** An API server that keeps one resourceVersion per object and bumps it only when the content changes. */
class FakeServer {
  readonly stored = new Map<string, { rv: number; body: string }>();
  readonly applied: string[] = [];
  readonly deleted: { ref: ObjectRef; opts: unknown }[] = [];
  failures = new Map<string, ApiError>();

  readonly client = {
    apply: async (o: KubeObject) => {
      const key = `${o.kind}/${o.metadata.name}`;
      this.applied.push(key);
      const failure = this.failures.get(key);
      if (failure !== undefined) throw failure;
      const body = JSON.stringify(o);
      const prev = this.stored.get(key);
      const rv = prev === undefined ? 1 : prev.body === body ? prev.rv : prev.rv + 1;
      this.stored.set(key, { rv, body });
      return { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } };
    },
    delete: async (ref: ObjectRef, opts: unknown) => {
      this.deleted.push({ ref, opts });
      return true;
    },
  } as unknown as KubeClient;

  /** A cache of one kind that shows what the server stores. */
  cacheOf: CacheOfKind = (kind) =>
    ({
      get: (key: string) => {
        const name = key.split('/')[1] ?? '';
        const s = this.stored.get(`${kind}/${name}`);
        return s === undefined ? undefined : obj(kind, name, { resourceVersion: String(s.rv) });
      },
      list: () => [],
    }) as unknown as ObjectCache<KubeObject>;
}

describe('ChildApplier', () => {
  it('applies each stage, and sends a child again only when it may have changed', async () => {
    const server = new FakeServer();
    const applier = new ChildApplier(server.client, server.cacheOf);
    const stages = [[obj('Secret', 'a'), obj('ConfigMap', 'b')], [obj('Deployment', 'c')]];
    const first = await applier.applyStages(stages, logger);
    assert.deepEqual([...first.applied.keys()].sort(), ['ConfigMap/b', 'Deployment/c', 'Secret/a']);
    // Created: the next apply goes out once more (a first update may still write); after a no-op apply, none.
    await applier.applyStages(stages, logger);
    const third = await applier.applyStages(stages, logger);
    assert.equal(third.applied.size, 0);
    assert.equal(server.applied.length, 6);
    // New content is sent.
    const changed = await applier.applyStages([[obj('Secret', 'a', { labels: { x: 'y' } })]], logger);
    assert.deepEqual([...changed.applied.keys()], ['Secret/a']);
    // A forgotten child is sent again.
    applier.forget('ns', ['b']);
    assert.deepEqual(
      [...(await applier.applyStages([[obj('ConfigMap', 'b')]], logger)).applied.keys()],
      ['ConfigMap/b'],
    );
  });

  it('stops after the stage of a transient failure, and reports refusals per child', async () => {
    const server = new FakeServer();
    server.failures.set('Secret/a', apiError(503, 'ServiceUnavailable'));
    server.failures.set('ConfigMap/b', apiError(422, 'Invalid'));
    const applier = new ChildApplier(server.client, server.cacheOf);
    const outcome = await applier.applyStages(
      [[obj('Secret', 'a'), obj('ConfigMap', 'b')], [obj('Deployment', 'c')]],
      logger,
    );
    assert.equal(outcome.transient?.obj.metadata.name, 'a');
    assert.deepEqual(
      outcome.refused.map((r) => r.message),
      ['ConfigMap b: the server says Invalid (Invalid)'],
    );
    assert.ok(!server.applied.includes('Deployment/c'), 'the next stage waits');
  });
});

describe('pruneChildren', () => {
  it('deletes only the owner’s children that are not wanted, preconditioned on their uid', async () => {
    const server = new FakeServer();
    const owned = (kind: string, name: string, ownerUid = 'owner-1', label = 'reg') =>
      obj(kind, name, {
        uid: `uid-${name}`,
        labels: { 'berth.dev/registry': label },
        ownerReferences: [
          {
            apiVersion: 'berth.dev/v1alpha1',
            kind: 'ContainerRegistry',
            name: label,
            uid: ownerUid,
            controller: true,
          },
        ],
      });
    const existing: Record<string, KubeObject[]> = {
      Ingress: [
        owned('Ingress', 'reg'),
        owned('Ingress', 'someone-elses', 'owner-2'),
        owned('Ingress', 'other', 'owner-1', 'x'),
      ],
      Service: [owned('Service', 'reg-registry')],
      PersistentVolumeClaim: [owned('PersistentVolumeClaim', 'reg-data')],
    };
    const cacheOf: CacheOfKind = (kind) =>
      ({
        list: () => existing[kind] ?? [],
        get: (key: string) => existing[kind]?.find((o) => objectKey(o) === key),
      }) as unknown as ObjectCache<KubeObject>;
    const forgotten: string[] = [];
    await pruneChildren(
      server.client,
      cacheOf,
      {
        namespace: 'ns',
        ownerUid: 'owner-1',
        label: { key: 'berth.dev/registry', value: 'reg' },
        kinds: [
          { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
          { apiVersion: 'v1', kind: 'Service' },
        ],
        wanted: [obj('Service', 'reg-registry')],
      },
      logger,
      (ref) => forgotten.push(`${ref.kind}/${ref.name}`),
    );
    assert.deepEqual(server.deleted, [
      {
        ref: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: 'ns', name: 'reg' },
        opts: { uid: 'uid-reg', propagationPolicy: 'Background' },
      },
    ]);
    assert.deepEqual(forgotten, ['Ingress/reg']);
  });
});
