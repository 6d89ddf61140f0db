// The storage keys of config.yml the operator renders from spec.storage: the S3 driver's tuning keys
// (storageClass, chunkSize, secure, skipVerify, maxRequestsPerSecond) and the blob descriptor cache. A registry
// that sets none of them renders byte for byte what it rendered before they existed, so no pod rolls on upgrade.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { parseContainerRegistry } from '../../operator/api/index.ts';
import { renderRegistry } from '../../operator/render/registry.ts';
import { parseConfig } from '../../registry/config/load.ts';
import { parsedRegistry as registry } from './registry-fixture.ts';

const material = {
  signing: { privateKeyPem: 'key', certificatePem: 'cert' },
  httpSecret: 'secret',
  selfSignedTls: { privateKeyPem: 'tls-key', certificatePem: 'tls-cert', host: 'reg.example.test' },
};

/** config.yml as the ConfigMap carries it. */
function configYml(storage: Record<string, unknown>): string {
  const out = renderRegistry({
    registry: registry({ storage }),
    material,
    referencedSecrets: {},
    defaultImage: 'b:1',
  });
  const map = out.objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  const text = map.data['config.yml'];
  assert.ok(text !== undefined);
  return text;
}

type Yaml = { storage: Record<string, Record<string, unknown> | undefined> };

/** The head and tail every rendered config.yml of registry team/reg shares. */
const head = `# config.yml of ContainerRegistry team/reg, written by berth-operator
auth:
  token:
    issuer: berth-token-issuer
    realm: http://reg-token-issuer.team.svc:5001/auth/token
    rootcertbundle: /etc/berth/token-cert/token.crt
    service: berth-registry
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
http:
  addr: :5000
  draintimeout: 20s
log:
  fields:
    registry: team/reg
  level: info
storage:
  delete:
    enabled: false
`;
const maintenance = `  maintenance:
    readonly:
      enabled: false
    uploadpurging:
      age: 168h
      dryrun: false
      enabled: true
      interval: 24h
`;

describe('render: storage keys of config.yml', () => {
  it('a spec without the new keys renders exactly what it rendered before them', () => {
    // Captured from the render before storage.cache and the S3 tuning keys were added to the CRD.
    assert.equal(
      configYml({ filesystem: {} }),
      `${head}  filesystem:
    rootdirectory: /var/lib/registry
${maintenance}  redirect:
    disable: true
version: '0.1'
`,
    );
    assert.equal(
      configYml({ s3: { bucket: 'bucket', endpoint: 'http://minio:9000', forcePathStyle: true } }),
      `${head}${maintenance}  redirect:
    disable: false
  s3:
    bucket: bucket
    encrypt: false
    forcepathstyle: true
    region: us-east-1
    regionendpoint: http://minio:9000
version: '0.1'
`,
    );
    // An empty cache section asks for nothing either.
    assert.ok(!configYml({ filesystem: {}, cache: {} }).includes('cache'));
  });

  it('renders the S3 tuning keys under their Distribution names, and the registry accepts them', () => {
    const text = configYml({
      s3: {
        bucket: 'bucket',
        endpoint: 'https://minio.example.test:9000',
        storageClass: 'STANDARD_IA',
        chunkSize: 16 * 1024 * 1024,
        secure: true,
        skipVerify: true,
        maxRequestsPerSecond: 200,
      },
    });
    const s3 = (load(text) as Yaml).storage['s3'];
    assert.deepEqual(s3, {
      bucket: 'bucket',
      region: 'us-east-1',
      regionendpoint: 'https://minio.example.test:9000',
      forcepathstyle: false,
      encrypt: false,
      storageclass: 'STANDARD_IA',
      chunksize: 16 * 1024 * 1024,
      secure: true,
      skipverify: true,
      maxrequestspersecond: 200,
    });
    const parsed = parseConfig(text, {}).config.storage.s3;
    assert.equal(parsed?.storageclass, 'STANDARD_IA');
    assert.equal(parsed?.chunksize, 16 * 1024 * 1024);
    assert.equal(parsed?.maxrequestspersecond, 200);
  });

  it('renders storage.cache.blobdescriptor (and its size) when spec.storage.cache asks for it', () => {
    const cached = load(configYml({ filesystem: {}, cache: { blobDescriptor: 'inmemory' } })) as Yaml;
    assert.deepEqual(cached.storage['cache'], { blobdescriptor: 'inmemory' });
    const text = configYml({
      s3: { bucket: 'bucket' },
      cache: { blobDescriptor: 'inmemory', blobDescriptorSize: 50_000 },
    });
    assert.deepEqual((load(text) as Yaml).storage['cache'], {
      blobdescriptor: 'inmemory',
      blobdescriptorsize: 50_000,
    });
    assert.deepEqual(parseConfig(text, {}).config.storage.cache, {
      blobdescriptor: 'inmemory',
      blobdescriptorsize: 50_000,
    });
  });

  it('refuses values the registry would refuse, naming the field', () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ s3: { bucket: 'bucket', chunkSize: 1024 * 1024 } }, /storage\.s3\.chunkSize/],
      [{ s3: { bucket: 'bucket', storageClass: 'DEEP_ARCHIVE' } }, /storage\.s3\.storageClass/],
      [{ s3: { bucket: 'bucket', maxRequestsPerSecond: -1 } }, /storage\.s3\.maxRequestsPerSecond/],
      [
        { s3: { bucket: 'bucket', endpoint: 'https://minio:9000', secure: false } },
        /secure must agree with the endpoint/,
      ],
      [{ s3: { bucket: 'bucket', secure: false } }, /AWS is HTTPS only/],
      [{ filesystem: {}, cache: { blobDescriptor: 'redis' } }, /storage\.cache\.blobDescriptor/],
      [{ filesystem: {}, cache: { blobDescriptorSize: 10 } }, /blobDescriptorSize needs blobDescriptor/],
    ];
    for (const [storage, message] of refused) {
      const result = parseContainerRegistry({
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'ContainerRegistry',
        metadata: { name: 'reg', namespace: 'team' },
        spec: { storage },
      });
      assert.equal(result.success, false, JSON.stringify(storage));
      if (!result.success) assert.match(result.message, message);
    }
  });
});
