// What the registry reconciler renders around a storage migration (operator/reconcile/served-registry.ts): the
// pods serve where the data is (status.storage, or the running migration's source until the switch), config.yml
// says read-only in the read-only phases, the generated claim of a filesystem target exists ahead of the Jobs,
// and the pod template names its storage location (what the migration checks on each pod).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { storageSchema } from '../../operator/api/index.ts';
import { snapshot, storageIdentity } from '../../operator/render/storage-location.ts';
import { renderRegistry } from '../../operator/render/registry.ts';
import { servedRegistry } from '../../operator/reconcile/served-registry.ts';
import type { RegistryObject } from '../../operator/reconcile/registry-api.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import { parsedRegistry } from './registry-fixture.ts';

const material = {
  signing: { privateKeyPem: 'key', certificatePem: 'cert' },
  httpSecret: 'secret',
  selfSignedTls: { privateKeyPem: 'tls-key', certificatePem: 'tls-cert', host: 'reg.example.test' },
};
const fs = { filesystem: {} };
const s3 = { s3: { bucket: 'images', endpoint: 'http://minio:9000', forcePathStyle: true } };

function raw(spec: Record<string, unknown>, status: Record<string, unknown>): RegistryObject {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team', uid: 'u-1', generation: 2 },
    spec,
    status,
  } as RegistryObject;
}

function migration(phase: string, outcome?: string) {
  return {
    type: 'StorageMigration',
    id: 'mig-20261203120000',
    phase,
    startTime: '2026-12-03T12:00:00Z',
    source: snapshot(storageSchema.parse(fs)),
    target: snapshot(storageSchema.parse(s3)),
    ...(outcome !== undefined ? { outcome: { result: outcome, message: 'done' } } : {}),
  };
}

/** What the reconciler renders for `spec` with `status`: the config's storage and read-only flag, the objects. */
function rendered(spec: Record<string, unknown>, status: Record<string, unknown>) {
  const served = servedRegistry(raw(spec, status), parsedRegistry(spec));
  const out = renderRegistry({
    registry: served.registry,
    material,
    referencedSecrets: {},
    defaultImage: 'b:1',
    maintenanceReadOnly: served.maintenanceReadOnly,
    ...(served.migrationTarget !== undefined ? { migrationTarget: served.migrationTarget } : {}),
  });
  const byKind = (kind: string) => out.objects.filter((o) => o.kind === kind);
  const configMap = byKind('ConfigMap')[0] as KubeObject & { data: Record<string, string> };
  const config = load(configMap.data['config.yml'] ?? '') as {
    storage: Record<string, unknown> & { maintenance?: { readonly?: { enabled?: boolean } } };
  };
  const deployment = out.objects.find(
    (o) => o.metadata.name === 'reg-registry' && o.kind === 'Deployment',
  ) as
    (KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } }) | undefined;
  return {
    drivers: Object.keys(config.storage).filter((k) => ['filesystem', 's3', 'gcs', 'azure'].includes(k)),
    readOnly: config.storage.maintenance?.readonly?.enabled === true,
    claims: byKind('PersistentVolumeClaim').map((c) => c.metadata.name),
    location: deployment?.spec.template.metadata.annotations['berth.dev/storage-location'],
  };
}

const fsHash = storageIdentity(storageSchema.parse(fs)).hash;
const s3Hash = storageIdentity(storageSchema.parse(s3)).hash;

describe('the registry as served around a storage migration', () => {
  it('serves spec.storage when nothing was recorded or the record names the same place', () => {
    assert.deepEqual(rendered({ storage: s3 }, {}), {
      drivers: ['s3'],
      readOnly: false,
      claims: [],
      location: s3Hash,
    });
    const recorded = { storage: storageSchema.parse({ ...s3, redirect: false }) };
    assert.deepEqual(rendered({ storage: s3 }, recorded).drivers, ['s3']);
  });

  it('keeps serving the recorded storage when spec.storage names another and no migration runs', () => {
    const r = rendered({ storage: s3 }, { storage: storageSchema.parse(fs) });
    assert.deepEqual(r, { drivers: ['filesystem'], readOnly: false, claims: ['reg-data'], location: fsHash });
  });

  it('serves the source read-write while syncing, with the target claim created ahead (s3 -> filesystem)', () => {
    const back = {
      ...migration('Syncing'),
      source: snapshot(storageSchema.parse(s3)),
      target: snapshot(storageSchema.parse(fs)),
    };
    const r = rendered({ storage: fs }, { operation: back, storage: storageSchema.parse(s3) });
    assert.deepEqual(r, { drivers: ['s3'], readOnly: false, claims: ['reg-data'], location: s3Hash });
  });

  it('is read-only on the source from EnteringReadOnly through FinalSync, on the target from Switching', () => {
    for (const phase of ['EnteringReadOnly', 'FinalSync']) {
      const r = rendered({ storage: s3 }, { operation: migration(phase), storage: storageSchema.parse(fs) });
      assert.deepEqual([phase, r.drivers, r.readOnly, r.location], [phase, ['filesystem'], true, fsHash]);
    }
    const switching = rendered({ storage: s3 }, { operation: migration('Switching') });
    assert.deepEqual([switching.drivers, switching.readOnly, switching.location], [['s3'], true, s3Hash]);
    const back = rendered({ storage: fs }, { operation: migration('SwitchingBack') });
    assert.deepEqual([back.drivers, back.readOnly, back.location], [['filesystem'], true, fsHash]);
  });

  it('leaves read-only on the target after a success, on the source otherwise', () => {
    const won = rendered({ storage: s3 }, { operation: migration('LeavingReadOnly', 'Succeeded') });
    assert.deepEqual([won.drivers, won.readOnly], [['s3'], false]);
    const lost = rendered({ storage: s3 }, { operation: migration('LeavingReadOnly', 'Failed') });
    assert.deepEqual([lost.drivers, lost.readOnly], [['filesystem'], false]);
  });

  it('ignores a recorded storage that no longer parses', () => {
    assert.deepEqual(rendered({ storage: s3 }, { storage: { nfs: {} } }).drivers, ['s3']);
  });
});
