// The render as one builder per child object: the objects come out in apply order, each child once, each
// owned by the registry except a retained claim; the user Secrets a registry names are worked out in one place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { childKinds } from '../../operator/reconcile/registry-children.ts';
import { renderRegistry } from '../../operator/render/registry.ts';
import { namedSecrets, referencedSecretNames } from '../../operator/render/secret-references.ts';
import { parsedRegistry as registry } from './registry-fixture.ts';

const material = {
  signing: { privateKeyPem: 'key', certificatePem: 'cert' },
  httpSecret: 'secret',
  selfSignedTls: { privateKeyPem: 'tls-key', certificatePem: 'tls-cert', host: 'reg.example.test' },
};
const accessTokens = { file: 'version: 1\ntokens: []\n', names: [], sources: [], problems: [] };

const everything = {
  replicas: 3,
  storage: { filesystem: { accessMode: 'ReadWriteMany' } },
  ingress: { enabled: true, host: 'reg.example.test' },
  auth: { accessTokensFrom: { matchLabels: { a: 'b' } } },
};

describe('render: one builder per child', () => {
  it('renders every child once, in apply order', () => {
    const out = renderRegistry({
      registry: registry(everything),
      material,
      accessTokens,
      referencedSecrets: {},
      defaultImage: 'b:1',
    });
    assert.deepEqual(
      out.objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'ServiceAccount/reg-registry',
        'ServiceAccount/reg-token-issuer',
        'Secret/reg-token-signing',
        'Secret/reg-http-secret',
        'Secret/reg-access-tokens',
        'Secret/reg-selfsigned-tls',
        'ConfigMap/reg-config',
        'PersistentVolumeClaim/reg-data',
        'Service/reg-registry',
        'Service/reg-token-issuer',
        'Deployment/reg-registry',
        'Deployment/reg-token-issuer',
        'PodDisruptionBudget/reg-registry',
        'Ingress/reg',
      ],
    );
    const order = childKinds.map((k) => k.kind as string);
    const ranks = out.objects.map((o) => order.indexOf(o.kind));
    assert.ok(
      ranks.every((r, i) => r >= 0 && (i === 0 || r >= (ranks[i - 1] ?? 0))),
      'kinds in childKinds order',
    );
  });

  it('owns every child but a retained claim', () => {
    const owned = (deletionPolicy: string) =>
      renderRegistry({
        registry: registry({ ...everything, deletionPolicy }),
        material,
        referencedSecrets: {},
        defaultImage: 'b:1',
      })
        .objects.filter((o) => o.metadata.ownerReferences?.[0]?.uid !== 'u-1')
        .map((o) => o.kind);
    assert.deepEqual(owned('Retain'), ['PersistentVolumeClaim']);
    assert.deepEqual(owned('Delete'), []);
  });

  it('leaves out what the spec does not call for', () => {
    const out = renderRegistry({
      registry: registry({ storage: { s3: { bucket: 'bucket' } } }),
      material,
      referencedSecrets: {},
      defaultImage: 'b:1',
    });
    assert.deepEqual(
      out.objects
        .map((o) => o.kind)
        .filter((k) => ['PersistentVolumeClaim', 'PodDisruptionBudget', 'Ingress'].includes(k)),
      [],
    );
    assert.equal(out.objects.filter((o) => o.kind === 'Secret').length, 2);
  });
});

describe('the user Secrets a registry names', () => {
  it('pods read the credentials and header Secrets (each once, sorted); the TLS Secret is named too', () => {
    const cr = registry({
      storage: { s3: { bucket: 'bucket', credentialsSecretRef: { name: 'creds' } } },
      ingress: { enabled: true, host: 'reg.example.test', tls: { secretName: 'reg-tls' } },
      notifications: {
        endpoints: [
          { name: 'b', url: 'https://b.example.test/', headersSecretRef: { name: 'hooks' } },
          { name: 'a', url: 'https://a.example.test/', headersSecretRef: { name: 'creds' } },
        ],
      },
    });
    assert.deepEqual(referencedSecretNames(cr), ['creds', 'hooks']);
    assert.deepEqual(namedSecrets(cr), ['creds', 'hooks', 'reg-tls']);
  });
});
