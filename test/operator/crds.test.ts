// The CRDs generated from operator/api against the real kube-apiserver: the committed YAML is current, the
// CRDs install, every example applies, the server applies the schema defaults (the same ones zod applies),
// and bad specs are refused with the CEL rule's message (the same message the operator's parse gives).
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  parseCleanupPolicy,
  parseContainerRegistry,
  resources,
  type ParseResult,
} from '../../operator/api/index.ts';
import { z } from 'zod';
import { buildCrd, generatedFiles } from '../../operator/crd/crds.ts';
import { structuralSchema, type JSONSchemaProps } from '../../operator/crd/structural.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { repoRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';

const step = { timeout: 180_000 };
const ns = 'berth-crds';
const apiVersion = 'berth.dev/v1alpha1';

type Obj = Record<string, unknown>;

function registry(name: string, spec: Obj): Obj {
  return { apiVersion, kind: 'ContainerRegistry', metadata: { name, namespace: ns }, spec };
}
function policy(name: string, spec: Obj): Obj {
  return { apiVersion, kind: 'CleanupPolicy', metadata: { name, namespace: ns }, spec };
}
function parse(obj: Obj): ParseResult<unknown> {
  return obj['kind'] === 'CleanupPolicy' ? parseCleanupPolicy(obj) : parseContainerRegistry(obj);
}

const fs = { filesystem: {} };

/** Specs the API server must refuse, and the rule message it must say (zod must say the same). */
const badSpecs: { what: string; object: Obj; message: RegExp }[] = [
  {
    what: 'two storage drivers',
    object: registry('two-drivers', { storage: { filesystem: {}, s3: { bucket: 'images' } } }),
    message: /exactly one storage driver must be set: filesystem, s3, gcs or azure/,
  },
  {
    what: 'no storage driver',
    object: registry('no-driver', { storage: { delete: true } }),
    message: /exactly one storage driver must be set/,
  },
  {
    what: 'replicas 3 on ReadWriteOnce filesystem storage',
    object: registry('rwo', { replicas: 3, storage: { filesystem: { accessMode: 'ReadWriteOnce' } } }),
    message: /replicas > 1 needs shared storage/,
  },
  {
    what: 'replicas 2 on filesystem storage with the default access mode',
    object: registry('rwo-default', { replicas: 2, storage: fs }),
    message: /replicas > 1 needs shared storage/,
  },
  {
    what: 'cadence and schedule both',
    object: policy('both', { registryRef: { name: 'r' }, cadence: '7d', schedule: '0 3 * * *' }),
    message: /set exactly one of cadence or schedule/,
  },
  {
    what: 'neither cadence nor schedule',
    object: policy('neither', { registryRef: { name: 'r' } }),
    message: /set exactly one of cadence or schedule/,
  },
  {
    what: 'a cleanup run timeout above 24h',
    object: policy('long-run', { registryRef: { name: 'r' }, cadence: '7d', timeout: '48h' }),
    message: /must be a duration such as 30s, 5m or 1h30m .* between 1m and 24h/,
  },
  {
    what: 'a cron schedule in words',
    object: registry('cron-words', { storage: fs, garbageCollection: { schedule: 'every sunday' } }),
    message: /must be a cron schedule/,
  },
  {
    what: 'a cron minute out of range',
    object: registry('cron-range', { storage: fs, garbageCollection: { schedule: '61 * * * *' } }),
    message: /must be a cron schedule/,
  },
  {
    what: 'a cron schedule with six fields',
    object: registry('cron-six', { storage: fs, garbageCollection: { schedule: '0 0 3 * * *' } }),
    message: /must be a cron schedule/,
  },
  {
    what: 'a policy schedule with four fields',
    object: policy('cron-four', { registryRef: { name: 'r' }, schedule: '* * * *' }),
    message: /must be a cron schedule/,
  },
  {
    what: 'a maintenance window with a bad schedule',
    object: registry('window', {
      storage: fs,
      maintenanceWindows: [{ schedule: '25 * * * *x', duration: '1h' }],
    }),
    message: /must be a cron schedule/,
  },
  {
    what: 'tls with secretName and issuerRef',
    object: registry('tls-both', {
      storage: fs,
      ingress: {
        enabled: true,
        host: 'registry.example.com',
        tls: { secretName: 'cert', issuerRef: { name: 'letsencrypt' } },
      },
    }),
    message: /set either tls.secretName or tls.issuerRef, not both/,
  },
  {
    what: 'an enabled ingress without host',
    object: registry('no-host', { storage: fs, ingress: { enabled: true } }),
    message: /ingress.host is required when the ingress is enabled/,
  },
  {
    what: 'kmsKeyId without encrypt',
    object: registry('kms', { storage: { s3: { bucket: 'images', kmsKeyId: 'alias/registry' } } }),
    message: /kmsKeyId needs encrypt: true/,
  },
  {
    what: 'secure: false with an https endpoint',
    object: registry('secure', {
      storage: { s3: { bucket: 'images', endpoint: 'https://minio:9000', secure: false } },
    }),
    message: /secure must agree with the endpoint/,
  },
  {
    what: 'a blob descriptor cache size without the cache',
    object: registry('cache-size', { storage: { filesystem: {}, cache: { blobDescriptorSize: 100 } } }),
    message: /blobDescriptorSize needs blobDescriptor/,
  },
  {
    what: 'a token lifetime below the minimum',
    object: registry('lifetime', { storage: fs, auth: { tokenLifetime: '30s' } }),
    message: /must be a duration .* between 1m and 24h/,
  },
  {
    what: 'a timeout that is not a duration',
    object: registry('timeout', { storage: fs, garbageCollection: { timeout: 'forever' } }),
    message: /must be a duration such as 30s, 5m or 1h30m/,
  },
  {
    what: 'an age in words',
    object: policy('age', { registryRef: { name: 'r' }, cadence: '1d', olderThan: '3 months' }),
    message: /must be an age such as 90d/,
  },
  {
    what: 'a registry name that is not a DNS-1035 label',
    object: registry('1registry', { storage: fs }),
    message: /ContainerRegistry names must be DNS-1035 labels/,
  },
  {
    what: 'a registry name longer than 40 characters',
    object: registry(`r${'e'.repeat(40)}`, { storage: fs }),
    message: /of at most 40 characters/,
  },
];

/** Specs at the edge of the rules that must be accepted. */
const goodSpecs: { what: string; object: Obj }[] = [
  {
    what: 'replicas 3 on ReadWriteMany filesystem storage',
    object: registry('rwx', { replicas: 3, storage: { filesystem: { accessMode: 'ReadWriteMany' } } }),
  },
  {
    what: 'replicas 3 on gcs',
    object: registry('gcs', { replicas: 3, storage: { gcs: { bucket: 'images' } } }),
  },
  {
    what: 'azure with a key Secret and an endpoint',
    object: registry('azure', {
      storage: {
        azure: {
          accountName: 'devstoreaccount1',
          container: 'registry',
          endpoint: 'http://azurite:10000/devstoreaccount1',
          credentialsSecretRef: { name: 'azure' },
        },
      },
    }),
  },
  {
    what: 's3 with every driver key and the blob descriptor cache',
    object: registry('s3-tuned', {
      storage: {
        s3: {
          bucket: 'images',
          endpoint: 'http://minio:9000',
          forcePathStyle: true,
          storageClass: 'REDUCED_REDUNDANCY',
          chunkSize: 5242880,
          secure: false,
          skipVerify: false,
          maxRequestsPerSecond: 100,
        },
        cache: { blobDescriptor: 'inmemory', blobDescriptorSize: 20000 },
      },
    }),
  },
  {
    what: 'cron macros, names, steps and lists',
    object: registry('cron-ok', {
      storage: fs,
      garbageCollection: { schedule: '@weekly' },
      maintenanceWindows: [
        { schedule: '*/15 1-5 * JAN-MAR MON-FRI', duration: '30m' },
        { schedule: '0 0,12 1 * *', duration: '1h30m' },
      ],
    }),
  },
  {
    what: 'tls with neither secretName nor issuerRef (self-signed)',
    object: registry('self-signed', {
      storage: fs,
      ingress: { enabled: true, host: 'r.example.com', tls: {} },
    }),
  },
  {
    what: 'a policy with a schedule',
    object: policy('scheduled', { registryRef: { name: 'r' }, schedule: '@daily' }),
  },
];

describe('generated CRDs', () => {
  it('the committed YAML is what the zod schemas generate', async () => {
    for (const [relative, content] of generatedFiles()) {
      let committed: string | undefined;
      try {
        committed = await readFile(path.join(repoRoot, relative), 'utf8');
      } catch {
        committed = undefined;
      }
      assert.ok(committed !== undefined, `${relative} is missing: run \`npm run generate\``);
      assert.ok(
        committed === content,
        `${relative} is stale (it differs from what operator/api generates): run \`npm run generate\``,
      );
    }
  });

  it('is structural: typed nodes, no unions or refs; the generator refuses what Kubernetes would', () => {
    const forbidden = ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'additionalItems', 'propertyNames'];
    const walk = (node: JSONSchemaProps, at: string): void => {
      for (const key of forbidden) assert.ok(!(key in node), `${at}: ${key}`);
      assert.ok(
        node.type !== undefined ||
          node['x-kubernetes-int-or-string'] === true ||
          node['x-kubernetes-preserve-unknown-fields'] === true,
        `${at} has no type`,
      );
      if (node.properties !== undefined && node.additionalProperties !== undefined)
        assert.fail(`${at}: both`);
      for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${at}.${name}`);
      if (node.items !== undefined) walk(node.items, `${at}[]`);
      if (node.additionalProperties !== undefined) walk(node.additionalProperties, `${at}.*`);
    };
    for (const def of resources) {
      const [version] = buildCrd(def).spec.versions;
      assert.ok(version);
      walk(version.schema.openAPIV3Schema, def.kind);
    }
    assert.throws(
      () => structuralSchema(z.strictObject({ a: z.union([z.string(), z.boolean()]) })),
      /a: unions are not structural/,
    );
    assert.throws(() => structuralSchema(z.strictObject({ a: z.unknown() })), /a: no type/);
    assert.deepEqual(structuralSchema(z.strictObject({ m: z.record(z.string(), z.unknown()).optional() })), {
      type: 'object',
      properties: { m: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    });
  });

  it('the zod parse refuses each bad spec with the message the CEL rule gives', () => {
    for (const c of badSpecs) {
      const result = parse(c.object);
      assert.equal(result.success, false, `zod accepted ${c.what}`);
      if (!result.success) assert.match(result.message, c.message, c.what);
    }
    for (const c of goodSpecs) {
      const result = parse(c.object);
      assert.ok(result.success, `${c.what}: ${result.success ? '' : result.message}`);
    }
  });
});

describe('CRDs on a real API server', () => {
  let cp: ControlPlane | undefined;
  const report = failureReport();

  before(async () => {
    const t0 = Date.now();
    cp = await startControlPlane();
    process.stderr.write(`[crds] control plane ready in ${String(Date.now() - t0)} ms\n`);
    await cp.kubectl(['create', 'namespace', ns]);
  }, step);
  afterEach(report.check);
  after(async () => {
    report.print({ 'control plane': cp });
    await cp?.stop();
  });

  function plane(): ControlPlane {
    assert.ok(cp, 'the control plane did not start');
    return cp;
  }

  async function apply(obj: Obj, check = true): Promise<{ code: number; stderr: string }> {
    return plane().kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj), check });
  }

  async function getJson(kind: string, name: string, namespace = ns): Promise<Obj> {
    const { stdout } = await plane().kubectl(['-n', namespace, 'get', kind, name, '-o', 'json']);
    return JSON.parse(stdout) as Obj;
  }

  it('install and become Established, with names, short names and the berth category', step, async () => {
    const k = plane().kubectl;
    await k(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
    for (const def of resources) {
      const crd = `crd/${def.plural}.${def.group}`;
      await k(['wait', '--for=condition=Established', crd, '--timeout=60s']);
      const got = JSON.parse((await k(['get', crd, '-o', 'json'])).stdout) as {
        status?: { conditions?: { type: string; status: string; message?: string }[] };
      };
      const conditions = got.status?.conditions ?? [];
      assert.ok(
        conditions.some((c) => c.type === 'NamesAccepted' && c.status === 'True'),
        JSON.stringify(conditions),
      );
      assert.ok(
        !conditions.some((c) => c.type === 'NonStructuralSchema'),
        `the schema is not structural: ${JSON.stringify(conditions)}`,
      );
    }
    const { stdout } = await k(['api-resources', '--api-group=berth.dev', '-o', 'wide']);
    assert.match(stdout, /containerregistries\s+creg\s+berth\.dev\/v1alpha1\s+true\s+ContainerRegistry/);
    assert.match(stdout, /cleanuppolicies\s+cpol\s+berth\.dev\/v1alpha1\s+true\s+CleanupPolicy/);
    // The server publishes a new CRD's OpenAPI a moment after Established; kubectl explain fails until then.
    const explain = await waitFor('kubectl explain to know containerregistry', async () => {
      const res = await k(['explain', 'containerregistry.spec.storage.s3.bucket'], { check: false });
      return res.code === 0 ? res.stdout : undefined;
    });
    assert.match(explain, /Bucket name/, 'field descriptions reach kubectl explain');
  });

  it(
    'applies every example (Secrets included), and the operator parses what the server stored',
    step,
    async () => {
      const k = plane().kubectl;
      await k(['create', 'namespace', 'examples']);
      const dir = path.join(repoRoot, 'examples');
      const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
      assert.deepEqual(files, ['cleanup-policy.yaml', 'registry-filesystem.yaml', 'registry-s3.yaml']);
      for (const file of files) {
        const res = await k(['-n', 'examples', 'apply', '-f', path.join(dir, file)], { check: false });
        assert.equal(res.code, 0, `${file}: ${res.stderr}`);
      }
      const secret = await getJson('secret', 'registry-s3-credentials', 'examples');
      assert.ok(secret['data'] !== undefined);
      for (const [kind, name, parser] of [
        ['containerregistry', 'registry', parseContainerRegistry],
        ['containerregistry', 'registry-s3', parseContainerRegistry],
        ['cleanuppolicy', 'expire-old-tags', parseCleanupPolicy],
      ] as const) {
        const stored = await getJson(kind, name, 'examples');
        const parsed = parser(stored);
        assert.ok(parsed.success, `${kind}/${name}: ${parsed.success ? '' : parsed.message}`);
      }
    },
  );

  it('applies the schema defaults, the same ones zod applies', step, async () => {
    await apply(registry('minimal', { storage: { filesystem: {} } }));
    const stored = await getJson('containerregistry', 'minimal');
    const spec = stored['spec'] as Obj;
    assert.equal(spec['replicas'], 1);
    assert.equal(spec['deletionPolicy'], 'Retain');
    assert.equal(spec['readOnly'], false);
    assert.deepEqual(spec['storage'], {
      filesystem: { size: '10Gi', accessMode: 'ReadWriteOnce' },
      delete: false,
      redirect: true,
      uploadPurging: { enabled: true, age: '168h', interval: '24h', dryRun: false },
      migration: { readOnlyBudget: '10m' },
    });
    assert.deepEqual(spec['ingress'], { enabled: false, tls: {} });
    assert.deepEqual(spec['auth'], {
      issuer: 'berth-token-issuer',
      service: 'berth-registry',
      tokenLifetime: '5m',
      publicRepositories: [],
      serviceAccountAccess: { enabled: false },
    });
    assert.deepEqual(spec['garbageCollection'], {
      deleteUntagged: false,
      dryRun: false,
      suspend: false,
      timeout: '1h',
    });
    const parsed = parseContainerRegistry(stored);
    assert.ok(parsed.success, parsed.success ? '' : parsed.message);
    assert.deepEqual(parsed.data.spec, spec, 'zod defaults the spec exactly as the API server did');

    // Defaults inside optional objects apply when the object is given.
    await apply(
      registry('s3-defaults', {
        replicas: 2,
        storage: { s3: { bucket: 'images', credentialsSecretRef: { name: 'creds' } } },
      }),
    );
    const s3 = ((await getJson('containerregistry', 's3-defaults'))['spec'] as { storage: Obj })['storage'];
    assert.deepEqual(s3['s3'], {
      bucket: 'images',
      region: 'us-east-1',
      forcePathStyle: false,
      encrypt: false,
      credentialsSecretRef: {
        name: 'creds',
        accessKeyIdKey: 'AWS_ACCESS_KEY_ID',
        secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY',
      },
    });

    await apply(policy('minimal', { registryRef: { name: 'minimal' }, cadence: '7d' }));
    const storedPolicy = await getJson('cleanuppolicy', 'minimal');
    assert.deepEqual(storedPolicy['spec'], {
      registryRef: { name: 'minimal' },
      enabled: true,
      cadence: '7d',
      keepN: 10,
      olderThan: '90d',
      nameRegex: '.*',
      repositories: { include: ['**'], exclude: [] },
      dryRun: false,
      maxTagsPerRun: 1000,
      timeout: '1h',
      suspend: false,
    });
    const parsedPolicy = parseCleanupPolicy(storedPolicy);
    assert.ok(parsedPolicy.success, parsedPolicy.success ? '' : parsedPolicy.message);
    assert.deepEqual(parsedPolicy.data.spec, storedPolicy['spec']);
  });

  it('refuses bad specs with the CEL rule message', step, async () => {
    for (const c of badSpecs) {
      const res = await apply(c.object, false);
      assert.notEqual(res.code, 0, `the API server accepted ${c.what}`);
      assert.match(res.stderr, c.message, `${c.what}: ${res.stderr}`);
    }
  });

  it('accepts specs at the edge of the rules', step, async () => {
    for (const c of goodSpecs) {
      const res = await apply(c.object, false);
      assert.equal(res.code, 0, `${c.what}: ${res.stderr}`);
    }
  });

  it(
    'has a status subresource and prints Ready, Endpoint, Operation and Last run columns',
    step,
    async () => {
      const k = plane().kubectl;
      await apply(registry('columns', { storage: fs }));
      await apply(policy('columns', { registryRef: { name: 'columns' }, cadence: '1d' }));
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      // Status is only writable through the subresource: a spec apply does not change it.
      await k([
        '-n',
        ns,
        'patch',
        'creg',
        'columns',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({
          status: {
            observedGeneration: 1,
            endpoint: 'https://columns.example.com',
            operation: { type: 'StorageMigration', id: 'mig-1', phase: 'Syncing', startTime: now },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                observedGeneration: 1,
                lastTransitionTime: now,
                reason: 'Serving',
                message: 'all replicas serve',
              },
            ],
          },
        }),
      ]);
      await k([
        '-n',
        ns,
        'patch',
        'cpol',
        'columns',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { lastRun: { startTime: now, result: 'Succeeded', tagsDeleted: 3 } } }),
      ]);
      const regs = (await k(['-n', ns, 'get', 'creg', 'columns'])).stdout;
      assert.match(regs, /^NAME\s+READY\s+ENDPOINT\s+OPERATION\s+AGE$/m);
      assert.match(regs, /^columns\s+True\s+https:\/\/columns\.example\.com\s+Syncing\s+\S+$/m);
      const pols = (await k(['-n', ns, 'get', 'cpol', 'columns'])).stdout;
      assert.match(pols, /^NAME\s+REGISTRY\s+LAST RUN\s+AGE$/m);
      assert.match(pols, /^columns\s+columns\s+\d+s\s+\S+$/m);
      const all = (await k(['-n', ns, 'get', 'berth'])).stdout;
      assert.match(all, /containerregistry\.berth\.dev\/columns/);
      assert.match(all, /cleanuppolicy\.berth\.dev\/columns/);

      // The status schema is enforced too (conditions are metav1.Condition).
      const bad = await k(
        [
          '-n',
          ns,
          'patch',
          'creg',
          'columns',
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'Maybe' }] } }),
        ],
        { check: false },
      );
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
    },
  );
});
