// A CleanupPolicy run starts only if the policy is still as the controller read it (real kube-apiserver, the
// controller driven directly). The informer may hand the controller a copy that has not yet seen the status a
// finished run wrote: from that copy the run's `berth.dev/run` request looks new, and without the
// resourceVersion precondition on the run-start write the same request ran again (the cause of the cleanup
// e2e flakes: deletions no run reported). Here the stale copy must get a 409 and change nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  CleanupPolicyController,
  cleanupFieldManager,
} from '../../operator/operations/cleanup/controller.ts';
import { applyStatusAs } from '../../operator/operations/status-apply.ts';
import { isApiError } from '../../operator/runtime/errors.ts';
import type { KubeClient } from '../../operator/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import type { ControlPlane } from '../harness/control-plane.ts';
import { applyTestRegistry, group, setReady, startControlPlaneWithCrds } from './status-harness.ts';

const ns = 'stale';
const policyRef = { apiVersion: group, kind: 'CleanupPolicy', namespace: ns, name: 'policy' };
const finishedRun = {
  id: 'cleanup-20261204-000000-finished',
  trigger: 'OnDemand',
  request: 'first',
  startTime: '2026-12-04T00:00:00Z',
  completionTime: '2026-12-04T00:00:05Z',
  result: 'Succeeded',
};

type Policy = KubeObject & { status?: { lastRun?: { id?: string }; operation?: unknown } };

describe('CleanupPolicy run start from a stale copy (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  const k = (): KubeClient => {
    assert.ok(client);
    return client;
  };

  before(
    async () => {
      ({ cp, client } = await startControlPlaneWithCrds(ns));
      const registry = await applyTestRegistry(k(), ns, 'registry', {
        storage: { filesystem: { size: '1Gi' }, delete: true },
      });
      await setReady(k(), registry, true);
    },
    { timeout: 240_000 },
  );
  after(async () => {
    client?.close();
    await cp?.stop();
  });

  /** A controller whose caches hold `policy` as given and the registry as stored now. */
  const controllerSeeing = async (policy: KubeObject) => {
    const registry = await k().get({
      apiVersion: group,
      kind: 'ContainerRegistry',
      namespace: ns,
      name: 'registry',
    });
    assert.ok(registry, 'the registry is stored');
    return new CleanupPolicyController(
      k(),
      {
        policies: { get: (key) => (key === `${ns}/policy` ? policy : undefined) },
        registries: { get: (key) => (key === `${ns}/registry` ? registry : undefined) },
      },
      // Nothing listens there: a run that got past its start would fail at once, and record that.
      { registryUrl: () => 'http://127.0.0.1:9' },
    );
  };

  it('a run request already answered by a finished run: the stale copy gets a 409 and nothing is written', async () => {
    await k().apply(
      {
        apiVersion: group,
        kind: 'CleanupPolicy',
        metadata: { name: 'policy', namespace: ns, annotations: { 'berth.dev/run': 'first' } },
        spec: { registryRef: { name: 'registry' }, cadence: '7d' },
      } as KubeObject,
      { force: true },
    );
    // The copy an informer might still hold: the request, and no run answering it yet.
    const stale = await k().get<Policy>(policyRef);
    assert.ok(stale);
    // The run that answered it finished meanwhile (written as the controller writes it).
    await applyStatusAs(
      k(),
      stale,
      { observedGeneration: stale.metadata.generation, lastRun: finishedRun },
      cleanupFieldManager,
    );
    const written = await k().get<Policy>(policyRef);
    assert.equal(written?.status?.lastRun?.id, finishedRun.id);

    const controller = await controllerSeeing(stale);
    const outcome = await controller.reconcile(`${ns}/policy`, pino({ level: 'silent' })).then(
      (result) => ({ result }),
      (err: unknown) => ({ err }),
    );
    assert.ok('err' in outcome, `the stale copy started a run: ${JSON.stringify(outcome)}`);
    assert.ok(
      isApiError(outcome.err) && outcome.err.status === 409,
      `a 409 Conflict: ${String(outcome.err)}`,
    );

    const now = await k().get<Policy>(policyRef);
    assert.equal(now?.status?.operation, undefined, 'no run was recorded as started');
    assert.equal(now?.status?.lastRun?.id, finishedRun.id, 'the finished run is still the last one');
    assert.equal(now?.metadata.resourceVersion, written?.metadata.resourceVersion, 'nothing was written');
  });

  it('the same controller with the current copy sees the request answered and starts nothing', async () => {
    const current = await k().get<Policy>(policyRef);
    assert.ok(current);
    const controller = await controllerSeeing(current);
    await controller.reconcile(`${ns}/policy`, pino({ level: 'silent' }));
    const now = await k().get<Policy>(policyRef);
    assert.equal(now?.status?.operation, undefined);
    assert.equal(now?.status?.lastRun?.id, finishedRun.id);
  });
});
