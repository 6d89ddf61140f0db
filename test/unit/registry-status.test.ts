// The ContainerRegistry status as a pure function of what a reconcile observed: each condition's reason comes
// from its catalogue in operator/api/reasons.ts, Ready/Progressing/Degraded summarise the domain conditions,
// and a blocked reconcile keeps what was reported before.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RegistryAuthReadyReason,
  RegistryDegradedReason,
  RegistryIngressReadyReason,
  RegistryProgressingReason,
  RegistryReadyReason,
  RegistryStorageReadyReason,
} from '../../operator/api/index.ts';
import type { Deployment } from '../../operator/reconcile/kube-shapes.ts';
import type { ObservedChildren } from '../../operator/reconcile/registry-conditions.ts';
import {
  blockedStatus,
  registryStatus,
  type Blocker,
  type RegistryStatusInput,
} from '../../operator/reconcile/registry-status.ts';
import { childNames } from '../../operator/render/names.ts';
import type { Condition } from '../../operator/runtime/objects.ts';
import { parsedRegistry } from './registry-fixture.ts';

const now = new Date('2030-01-02T03:04:05Z');
const names = childNames('reg');

function deployment(available: number, opts: { generation?: number; observed?: number } = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation: opts.generation ?? 1 },
    status: {
      observedGeneration: opts.observed ?? 1,
      replicas: available,
      updatedReplicas: available,
      readyReplicas: available,
      availableReplicas: available,
    },
  };
}

const upAndRunning: ObservedChildren = {
  registry: deployment(1),
  issuer: deployment(1),
  claim: undefined,
  ingress: undefined,
  tlsSecretFound: true,
};

function status(
  spec: Record<string, unknown>,
  over: Partial<Omit<RegistryStatusInput, 'children'>> & { children?: Partial<ObservedChildren> } = {},
) {
  const { children, ...rest } = over;
  return registryStatus(
    {
      registry: parsedRegistry(spec, 4),
      conditions: [],
      names,
      endpoint: 'http://reg-registry.team.svc:5000',
      missingSecrets: [],
      problems: [],
      ...rest,
      children: { ...upAndRunning, ...children },
    },
    now,
  );
}

function reasonOf(conditions: readonly Condition[], type: string): string | undefined {
  return conditions.find((c) => c.type === type)?.reason;
}

const s3 = { storage: { s3: { bucket: 'bucket', credentialsSecretRef: { name: 'creds' } } } };

describe('registryStatus', () => {
  it('all up: Ready, not Progressing, not Degraded, and the replica counts of the registry', () => {
    const s = status(s3);
    assert.deepEqual(
      s.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Ready', 'True', RegistryReadyReason.Available],
        ['Progressing', 'False', RegistryProgressingReason.Complete],
        ['Degraded', 'False', RegistryDegradedReason.AsExpected],
        ['StorageReady', 'True', RegistryStorageReadyReason.Configured],
        ['AuthReady', 'True', RegistryAuthReadyReason.Available],
        ['IngressReady', 'True', RegistryIngressReadyReason.Disabled],
      ],
    );
    assert.equal(s.observedGeneration, 4);
    assert.equal(s.endpoint, 'http://reg-registry.team.svc:5000');
    assert.equal(s.replicas, 1);
    assert.ok(
      s.conditions.every(
        (c) => c.observedGeneration === 4 && c.lastTransitionTime === '2030-01-02T03:04:05Z',
      ),
    );
  });

  it('a registry Deployment not yet available: RegistryUnavailable, rolling out', () => {
    const s = status(s3, { children: { registry: deployment(1, { generation: 2, observed: 1 }) } });
    assert.equal(reasonOf(s.conditions, 'Ready'), RegistryReadyReason.RegistryUnavailable);
    assert.match(s.conditions[0]?.message ?? '', /reg-registry .*rollout not observed yet/);
    assert.equal(reasonOf(s.conditions, 'Progressing'), RegistryProgressingReason.RollingOut);
  });

  it('the token issuer down: TokenIssuerUnavailable, AuthReady=False', () => {
    const s = status(
      { ...s3, replicas: 3 },
      { children: { registry: deployment(3), issuer: deployment(1) } },
    );
    assert.equal(reasonOf(s.conditions, 'Ready'), RegistryReadyReason.TokenIssuerUnavailable);
    assert.equal(reasonOf(s.conditions, 'AuthReady'), RegistryAuthReadyReason.IssuerUnavailable);
    assert.match(s.conditions.find((c) => c.type === 'AuthReady')?.message ?? '', /1\/2 replicas available/);
  });

  it('a refused child: ApplyFailed on Ready and Progressing; Degraded lists every problem, reason of the first', () => {
    const s = status(s3, {
      problems: [
        { reason: 'ApplyFailed', message: 'Ingress reg: denied (Forbidden)' },
        { reason: 'AccessTokensInvalid', message: 'tok/a: not YAML' },
      ],
    });
    assert.equal(reasonOf(s.conditions, 'Ready'), RegistryReadyReason.ApplyFailed);
    assert.equal(reasonOf(s.conditions, 'Progressing'), RegistryProgressingReason.ApplyFailed);
    const degraded = s.conditions.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.reason, RegistryDegradedReason.ApplyFailed);
    assert.equal(degraded?.message, 'Ingress reg: denied (Forbidden); tok/a: not YAML');
  });

  it('a stuck rollout and a missing credentials Secret are Degraded', () => {
    const stuck = deployment(0);
    stuck.status = {
      ...stuck.status,
      conditions: [
        { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' },
      ],
    };
    assert.equal(
      reasonOf(status(s3, { children: { registry: stuck } }).conditions, 'Degraded'),
      'RolloutStuck',
    );
    const missing = status(s3, { missingSecrets: ['creds'] });
    assert.equal(reasonOf(missing.conditions, 'StorageReady'), RegistryStorageReadyReason.SecretNotFound);
    assert.equal(reasonOf(missing.conditions, 'Degraded'), RegistryDegradedReason.SecretNotFound);
  });

  it('filesystem storage reports its claim', () => {
    const fs = { storage: { filesystem: {} } };
    const pvc = (phase?: string) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'reg-data' },
      ...(phase ? { status: { phase } } : {}),
    });
    const reason = (claim: ObservedChildren['claim']) =>
      reasonOf(status(fs, { children: { claim } }).conditions, 'StorageReady');
    assert.equal(reason({ name: 'reg-data', pvc: pvc('Bound') }), RegistryStorageReadyReason.Bound);
    assert.equal(reason({ name: 'reg-data', pvc: pvc() }), RegistryStorageReadyReason.WaitingForVolume);
    assert.equal(reason({ name: 'reg-data', pvc: undefined }), RegistryStorageReadyReason.ClaimNotFound);
  });

  it('the Ingress: its TLS Secret, its address, and what Traefik needs', () => {
    const ingress = (extra: Record<string, unknown>) => ({
      ...s3,
      ingress: { enabled: true, host: 'reg.example.test', tls: { secretName: 'reg-tls' }, ...extra },
    });
    const ready = (spec: Record<string, unknown>, children: Partial<ObservedChildren>) =>
      status(spec, { children }).conditions.find((c) => c.type === 'IngressReady');
    assert.equal(
      ready(ingress({}), { tlsSecretFound: false })?.reason,
      RegistryIngressReadyReason.TLSSecretNotFound,
    );
    const waiting = ready(ingress({ className: 'traefik' }), {});
    assert.equal(waiting?.reason, RegistryIngressReadyReason.WaitingForAddress);
    assert.match(waiting?.message ?? '', /readTimeout/);
    const served = ready(ingress({}), {
      ingress: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'reg' },
        status: { loadBalancer: { ingress: [{ ip: '10.0.0.9' }] } },
      },
    });
    assert.equal(served?.reason, RegistryIngressReadyReason.Admitted);
    assert.equal(served?.message, 'Ingress reg is served at 10.0.0.9');
  });

  it('keeps lastTransitionTime while the status holds, and leaves other writers’ conditions out', () => {
    const before: Condition[] = [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Available',
        message: 'old',
        lastTransitionTime: '2029-01-01T00:00:00Z',
      },
      {
        type: 'Degraded',
        status: 'True',
        reason: 'RolloutStuck',
        message: 'x',
        lastTransitionTime: '2029-01-01T00:00:00Z',
      },
      {
        type: 'GarbageCollecting',
        status: 'True',
        reason: 'Running',
        message: 'y',
        lastTransitionTime: '2029-01-01T00:00:00Z',
      },
    ];
    const s = status(s3, { conditions: before });
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime, '2029-01-01T00:00:00Z');
    assert.equal(s.conditions.find((c) => c.type === 'Degraded')?.lastTransitionTime, '2030-01-02T03:04:05Z');
    assert.equal(
      s.conditions.find((c) => c.type === 'GarbageCollecting'),
      undefined,
    );
  });
});

describe('blockedStatus', () => {
  const raw = {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team', generation: 7 },
    status: { endpoint: 'https://reg.example.test', replicas: 2, readyReplicas: 1, conditions: [] },
  };

  const blocked = (reason: Blocker['reason'], message: string, retrying: boolean) =>
    blockedStatus(raw, { reason, message }, retrying, now);

  it('names the blocker on Ready and Degraded and keeps what was reported before', () => {
    const s = blocked('InvalidSpec', 'invalid spec: spec.replicas: too big', false);
    const conditions = s.conditions;
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Ready', 'False', 'InvalidSpec'],
        ['Progressing', 'False', 'InvalidSpec'],
        ['Degraded', 'True', 'InvalidSpec'],
      ],
    );
    assert.equal(conditions[1]?.message, 'nothing is rolled out until the problem is fixed');
    assert.deepEqual(
      [s.observedGeneration, s.endpoint, s.replicas, s.readyReplicas],
      [7, 'https://reg.example.test', 2, 1],
    );
  });

  it('a transient failure is Progressing=True/Retrying', () => {
    const s = blocked('APIError', 'applying Service reg-registry failed', true);
    const progressing = s.conditions.find((c) => c.type === 'Progressing');
    assert.deepEqual(
      [progressing?.status, progressing?.reason],
      ['True', RegistryProgressingReason.Retrying],
    );
  });
});
