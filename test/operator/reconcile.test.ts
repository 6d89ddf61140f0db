// The ContainerRegistry reconcile against the real kube-apiserver, with the CRDs from crds/ and the operator
// running in this process (startOperator, as berth-operator runs it). No kubelet or controller-manager runs, so
// Deployments never get pods: Ready stays False (waiting for the Deployment) and Progressing True.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from 'js-yaml';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { repoRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import { parseOperatorConfig, startOperator, type RunningOperator } from '../../operator/operator.ts';
import { KubeClient } from '../../operator/runtime/kube-client.ts';
import { pino } from 'pino';
import type { Condition, KubeObject } from '../../operator/runtime/objects.ts';
import { registryConfigSchema } from '../../registry/config/schema.ts';
import { tokenServerConfigSchema } from '../../registry/auth/token-server-config.ts';
import { accessTokenFileSchema } from '../../registry/auth/access-tokens.ts';
import { hashSecret } from '../../registry/auth/secret-hash.ts';

const step = { timeout: 240_000 };
const ns = 'team';
const group = 'berth.dev/v1alpha1';

interface Registry extends KubeObject {
  spec?: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Condition[]; endpoint?: string };
}

interface Obj extends KubeObject {
  data?: Record<string, string>;
  spec?: Record<string, unknown> & {
    template?: { metadata?: { annotations?: Record<string, string> }; spec?: Record<string, unknown> };
    tls?: { secretName?: string; hosts?: string[] }[];
    rules?: {
      host?: string;
      http?: { paths?: { path?: string; backend?: { service?: { name?: string } } }[] };
    }[];
  };
  type?: string;
}

const childKinds: [string, string][] = [
  ['v1', 'ServiceAccount'],
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'Service'],
  ['v1', 'PersistentVolumeClaim'],
  ['apps/v1', 'Deployment'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['policy/v1', 'PodDisruptionBudget'],
];

function condition(r: Registry | undefined, type: string): Condition | undefined {
  return r?.status?.conditions?.find((c) => c.type === type);
}

describe('ContainerRegistry reconcile (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  let operator: RunningOperator | undefined;
  const report = failureReport();
  const operatorLog: string[] = [];

  before(async () => {
    cp = await startControlPlane();
    const crdDir = path.join(repoRoot, 'crds');
    for (const f of (await readdir(crdDir)).filter((f) => f.endsWith('.yaml')).sort()) {
      await cp.kubectl(['apply', '--server-side', '-f', path.join(crdDir, f)]);
    }
    client = KubeClient.load(cp.kubeconfigPath);
    const c = client;
    await waitFor('the CRDs to be established', async () => {
      const crd = await c.get<KubeObject & { status?: { conditions?: Condition[] } }>({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name: 'containerregistries.berth.dev',
      });
      return crd?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')
        ? true
        : undefined;
    });
    await cp.kubectl(['create', 'namespace', ns]);
    operator = await start();
  }, step);
  afterEach(report.check);
  after(async () => {
    report.print({
      'control plane': cp,
      operator: { output: () => operatorLog.join('\n') },
    });
    await operator?.stop();
    client?.close();
    await cp?.stop();
  });

  async function start(): Promise<RunningOperator> {
    assert.ok(cp);
    const config = parseOperatorConfig(
      [
        '--kubeconfig',
        cp.kubeconfigPath,
        '--namespace',
        'default',
        '--http-addr',
        '127.0.0.1:0',
        '--registry-image',
        'berth:test',
        '--resync-ms',
        '600000',
        '--token-reviewer-cluster-role=berth-token-reviewer',
        '--token-reviewer-binding=berth-token-reviewers',
      ],
      {},
    );
    // Keep the operator's log for failure reports, not on the test output.
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void operatorLog.push(line.trimEnd()) },
    );
    return startOperator(config, logger);
  }

  function k(): KubeClient {
    assert.ok(client, 'the control plane did not start');
    return client;
  }

  async function applyRegistry(name: string, spec: Record<string, unknown>): Promise<Registry> {
    return k().apply<Registry>(
      { apiVersion: group, kind: 'ContainerRegistry', metadata: { name, namespace: ns }, spec } as KubeObject,
      { force: true },
    );
  }

  async function getRegistry(name: string): Promise<Registry | undefined> {
    return k().get<Registry>({ apiVersion: group, kind: 'ContainerRegistry', namespace: ns, name });
  }

  async function get(apiVersion: string, kind: string, name: string): Promise<Obj | undefined> {
    return k().get<Obj>({ apiVersion, kind, namespace: ns, name });
  }

  /** Waits until the status reflects the current generation (and `test` holds). */
  async function settled(name: string, test: (r: Registry) => boolean = () => true): Promise<Registry> {
    return waitFor(
      `${name} to be reconciled`,
      async () => {
        const r = await getRegistry(name);
        return r && r.status?.observedGeneration === r.metadata.generation && test(r) ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  }

  /** Waits until the operator's queue is empty and nothing is running. */
  async function idle(op: RunningOperator): Promise<void> {
    const c = op.manager.getController('containerregistry');
    assert.ok(c);
    await waitFor(
      'the operator to be idle',
      async () => {
        const q = c.queue;
        return q.depth === 0 && q.processingCount === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  }

  async function reconcileCount(op: RunningOperator): Promise<number> {
    const m = op.manager.metrics;
    assert.ok(m);
    const v = await m.reconcileTotal.get();
    return v.values
      .filter((x) => x.labels['controller'] === 'containerregistry')
      .reduce((n, x) => n + x.value, 0);
  }

  /** kind/name → resourceVersion of everything labelled as this registry's. */
  async function children(name: string): Promise<Map<string, Obj>> {
    const out = new Map<string, Obj>();
    for (const [apiVersion, kind] of childKinds) {
      const { items } = await k().list<Obj>(apiVersion, kind, {
        namespace: ns,
        labelSelector: `berth.dev/registry=${name}`,
      });
      for (const i of items) out.set(`${kind}/${i.metadata.name}`, i);
    }
    return out;
  }

  function versions(objs: Map<string, Obj>): Record<string, string | undefined> {
    return Object.fromEntries([...objs].map(([key, o]) => [key, o.metadata.resourceVersion]));
  }

  it(
    'creates every child with ownerReferences; Ready=False while the Deployment is unavailable',
    step,
    async () => {
      await applyRegistry('alpha', { storage: { filesystem: { size: '5Gi' }, delete: true } });
      const r = await settled('alpha', (x) => condition(x, 'Ready') !== undefined);
      const uid = r.metadata.uid;
      assert.ok(uid);

      const ready = condition(r, 'Ready');
      assert.equal(ready?.status, 'False');
      assert.equal(ready?.reason, 'RegistryUnavailable');
      assert.match(ready?.message ?? '', /waiting for Deployment alpha-registry to become available/);
      assert.equal(condition(r, 'Progressing')?.status, 'True');
      assert.equal(condition(r, 'Degraded')?.status, 'False');
      assert.equal(condition(r, 'StorageReady')?.reason, 'WaitingForVolume');
      assert.equal(condition(r, 'Ready')?.observedGeneration, 1);
      assert.equal(r.status?.endpoint, `http://alpha-registry.${ns}.svc:5000`);

      const got = await children('alpha');
      const expected = [
        'ServiceAccount/alpha-registry',
        'ServiceAccount/alpha-token-issuer',
        'ConfigMap/alpha-config',
        'Secret/alpha-token-signing',
        'Secret/alpha-http-secret',
        'Service/alpha-registry',
        'Service/alpha-token-issuer',
        'Deployment/alpha-registry',
        'Deployment/alpha-token-issuer',
        'PersistentVolumeClaim/alpha-data',
      ];
      assert.deepEqual([...got.keys()].sort(), expected.sort());
      for (const [key, obj] of got) {
        const owner = obj.metadata.ownerReferences?.find((o) => o.controller === true);
        if (key === 'PersistentVolumeClaim/alpha-data') {
          assert.equal(
            owner,
            undefined,
            'deletionPolicy Retain (the default): the claim outlives the registry',
          );
          continue;
        }
        assert.equal(owner?.uid, uid, `${key} is owned by the ContainerRegistry`);
        assert.equal(owner?.kind, 'ContainerRegistry');
        assert.equal(owner?.blockOwnerDeletion, true);
        const managers = (obj.metadata.managedFields ?? []) as { manager?: string }[];
        assert.ok(
          managers.every((m) => m.manager === 'berth-operator'),
          `${key} is written by one field manager`,
        );
      }

      // The registry pod: non-root, read-only root filesystem, probes on /debug/health, the config hash.
      const dep = got.get('Deployment/alpha-registry');
      const pod = dep?.spec?.template?.spec as {
        securityContext?: { runAsNonRoot?: boolean };
        containers?: {
          securityContext?: { readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean };
          readinessProbe?: { httpGet?: { path?: string } };
          livenessProbe?: { httpGet?: { path?: string } };
          args?: string[];
        }[];
      };
      const container = pod.containers?.[0];
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(container?.readinessProbe?.httpGet?.path, '/debug/health');
      assert.equal(container?.livenessProbe?.httpGet?.path, '/debug/health');
      assert.deepEqual(container?.args, ['serve', '/etc/berth/config/config.yml']);
      assert.match(
        dep?.spec?.template?.metadata?.annotations?.['berth.dev/config-hash'] ?? '',
        /^[0-9a-f]{16}$/,
      );

      // The rendered configs are what the registry and the issuer accept.
      const cm = got.get('ConfigMap/alpha-config');
      const config = registryConfigSchema.parse(load(cm?.data?.['config.yml'] ?? ''));
      assert.equal(config.storage.delete.enabled, true);
      assert.equal(config.auth.token?.rootcertbundle, '/etc/berth/token-cert/token.crt');
      assert.ok(
        !('secret' in config.http && config.http.secret !== undefined),
        'the HTTP secret is not in the ConfigMap',
      );
      tokenServerConfigSchema.parse(load(cm?.data?.['token-server.yml'] ?? ''));
    },
  );

  it(
    'a second reconcile with no change writes nothing, also right after an operator restart',
    step,
    async () => {
      assert.ok(operator);
      await settled('alpha');
      await idle(operator);
      const before = versions(await children('alpha'));
      const statusBefore = JSON.stringify((await getRegistry('alpha'))?.status);

      // Poke the object without changing its spec: the reconcile runs and finds nothing to do.
      const count = await reconcileCount(operator);
      await k().mergePatch(
        { apiVersion: group, kind: 'ContainerRegistry', namespace: ns, name: 'alpha' },
        { metadata: { labels: { poke: '1' } } },
      );
      const op = operator;
      await waitFor('a reconcile', async () => ((await reconcileCount(op)) > count ? true : undefined));
      await idle(operator);
      assert.deepEqual(versions(await children('alpha')), before);
      assert.equal(
        JSON.stringify((await getRegistry('alpha'))?.status),
        statusBefore,
        'the status is not rewritten',
      );

      // A restarted operator has no memory of what it applied: it applies everything again, and the API server
      // finds every object unchanged.
      const signingBefore = await get('v1', 'Secret', 'alpha-token-signing');
      await operator.stop();
      operator = await start();
      const restarted = operator;
      await waitFor('the restarted operator to reconcile', async () =>
        (await reconcileCount(restarted)) >= 1 ? true : undefined,
      );
      await idle(operator);
      await sleep(500);
      await idle(operator);
      assert.deepEqual(versions(await children('alpha')), before, 'a full re-apply changed nothing');
      const signingAfter = await get('v1', 'Secret', 'alpha-token-signing');
      assert.deepEqual(signingAfter?.data, signingBefore?.data, 'the keypair survives a restart');
      assert.equal(signingAfter?.metadata.uid, signingBefore?.metadata.uid);

      // No hot loop: left alone, the operator stays quiet.
      const settledCount = await reconcileCount(operator);
      await sleep(2_000);
      assert.equal(await reconcileCount(operator), settledCount, 'no reconciles without changes');
    },
  );

  it(
    'changing storage.delete rolls the registry pods (template hash), not the issuer; readOnly rolls nothing',
    step,
    async () => {
      const hashes = async () => ({
        registry: (await get('apps/v1', 'Deployment', 'alpha-registry'))?.spec?.template?.metadata
          ?.annotations?.['berth.dev/config-hash'],
        issuer: (await get('apps/v1', 'Deployment', 'alpha-token-issuer'))?.spec?.template?.metadata
          ?.annotations?.['berth.dev/config-hash'],
      });
      await settled('alpha');
      const before = await hashes();
      await applyRegistry('alpha', { storage: { filesystem: { size: '5Gi' }, delete: false } });
      await settled('alpha', (r) => r.metadata.generation === 2);
      const afterDelete = await hashes();
      assert.notEqual(afterDelete.registry, before.registry, 'the registry pod template changed');
      assert.equal(afterDelete.issuer, before.issuer, 'the issuer does not depend on storage.delete');
      const cm = await get('v1', 'ConfigMap', 'alpha-config');
      assert.equal(
        registryConfigSchema.parse(load(cm?.data?.['config.yml'] ?? '')).storage.delete.enabled,
        false,
      );

      // Read-only mode is switched through config.yml, which the registry reloads: no new pods.
      await applyRegistry('alpha', {
        storage: { filesystem: { size: '5Gi' }, delete: false },
        readOnly: true,
      });
      await settled('alpha', (r) => r.metadata.generation === 3);
      assert.deepEqual(await hashes(), afterDelete);
      const cm2 = await get('v1', 'ConfigMap', 'alpha-config');
      assert.equal(
        registryConfigSchema.parse(load(cm2?.data?.['config.yml'] ?? '')).storage.maintenance.readonly
          .enabled,
        true,
      );
    },
  );

  it('an invalid spec gives Ready=False naming the field, and no hot loop', step, async () => {
    assert.ok(operator);
    // Rules only the operator's schemas check (the CRD's structural schema and CEL let these through).
    const candidates: [Record<string, unknown>, RegExp][] = [
      [
        { storage: { filesystem: {} }, garbageCollection: { schedule: '0 0 31 2 *' } },
        /spec\.garbageCollection\.schedule/,
      ],
      [
        { storage: { filesystem: {} }, auth: { publicRepositories: ['team/***'] } },
        /spec\.auth\.publicRepositories\[0\]/,
      ],
    ];
    let tried = 0;
    for (const [i, [spec, field]] of candidates.entries()) {
      const name = `invalid-${String(i)}`;
      try {
        await applyRegistry(name, spec);
      } catch {
        continue; // the API server has learned this rule since
      }
      tried++;
      const r = await settled(name, (x) => condition(x, 'Ready') !== undefined);
      const ready = condition(r, 'Ready');
      assert.equal(ready?.status, 'False');
      assert.equal(ready?.reason, 'InvalidSpec');
      assert.match(ready?.message ?? '', field);
      assert.equal(condition(r, 'Degraded')?.status, 'True');
      assert.equal(condition(r, 'Progressing')?.status, 'False');
      assert.equal((await children(name)).size, 0, 'nothing is created for an invalid spec');

      const op: RunningOperator = operator;
      await idle(op);
      const count = await reconcileCount(op);
      const rv = r.metadata.resourceVersion;
      await sleep(2_000);
      assert.equal(await reconcileCount(op), count, 'no retries while the spec is unchanged');
      assert.equal((await getRegistry(name))?.metadata.resourceVersion, rv, 'the status is written once');

      // Fixing the spec recovers.
      await applyRegistry(name, { storage: { filesystem: {} } });
      const fixed = await settled(name, (x) => condition(x, 'Ready')?.reason === 'RegistryUnavailable');
      assert.equal(condition(fixed, 'Degraded')?.status, 'False');
    }
    assert.ok(tried > 0, 'at least one invalid spec got past the API server');
  });

  it(
    'ingress with a generated self-signed certificate; switching it off deletes the Ingress and the certificate',
    step,
    async () => {
      await applyRegistry('web', {
        storage: { s3: { bucket: 'registry' } },
        replicas: 2,
        ingress: { enabled: true, host: 'reg.example.test', className: 'nginx' },
      });
      const r = await settled('web', (x) => condition(x, 'IngressReady') !== undefined);
      assert.equal(r.status?.endpoint, 'https://reg.example.test');
      assert.equal(condition(r, 'IngressReady')?.reason, 'WaitingForAddress');
      const ing = await get('networking.k8s.io/v1', 'Ingress', 'web');
      assert.ok(ing);
      assert.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'], '0');
      assert.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-request-buffering'], 'off');
      assert.ok(Number(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 600);
      assert.deepEqual(ing.spec?.tls, [{ hosts: ['reg.example.test'], secretName: 'web-selfsigned-tls' }]);
      const paths = Object.fromEntries(
        (ing.spec?.rules?.[0]?.http?.paths ?? []).map((p) => [p.path, p.backend?.service?.name]),
      );
      assert.equal(paths['/v2/'], 'web-registry');
      assert.equal(paths['/auth/token'], 'web-token-issuer');
      const tls = await get('v1', 'Secret', 'web-selfsigned-tls');
      assert.equal(tls?.type, 'kubernetes.io/tls');
      const { X509Certificate } = await import('node:crypto');
      const cert = new X509Certificate(Buffer.from(tls?.data?.['tls.crt'] ?? '', 'base64'));
      assert.equal(cert.checkHost('reg.example.test'), 'reg.example.test');
      assert.ok(
        await get('policy/v1', 'PodDisruptionBudget', 'web-registry'),
        'replicas > 1: a PodDisruptionBudget',
      );
      assert.equal(
        await get('v1', 'PersistentVolumeClaim', 'web-data'),
        undefined,
        'no claim for object storage',
      );

      // cert-manager instead: the annotation, and the Secret cert-manager will write.
      await applyRegistry('web', {
        storage: { s3: { bucket: 'registry' } },
        replicas: 2,
        ingress: { enabled: true, host: 'reg.example.test', tls: { issuerRef: { name: 'letsencrypt' } } },
      });
      await settled('web', (x) => x.metadata.generation === 2);
      const ing2 = await get('networking.k8s.io/v1', 'Ingress', 'web');
      assert.equal(ing2?.metadata.annotations?.['cert-manager.io/cluster-issuer'], 'letsencrypt');
      assert.equal(ing2?.spec?.tls?.[0]?.secretName, 'web-tls');
      await waitFor('the self-signed certificate to go', async () =>
        (await get('v1', 'Secret', 'web-selfsigned-tls')) === undefined ? true : undefined,
      );

      await applyRegistry('web', { storage: { s3: { bucket: 'registry' } }, replicas: 1 });
      await settled('web', (x) => x.metadata.generation === 3);
      await waitFor('the Ingress and PDB to go', async () =>
        (await get('networking.k8s.io/v1', 'Ingress', 'web')) === undefined &&
        (await get('policy/v1', 'PodDisruptionBudget', 'web-registry')) === undefined
          ? true
          : undefined,
      );
      const r3 = await getRegistry('web');
      assert.equal(r3?.status?.endpoint, `http://web-registry.${ns}.svc:5000`);
      assert.equal(condition(r3, 'IngressReady')?.reason, 'Disabled');
    },
  );

  it(
    'projects labelled access-token Secrets into the issuer, and follows their changes without rolling it',
    step,
    async () => {
      const tokenFile = async (name: string) =>
        JSON.stringify({
          version: 1,
          tokens: [
            {
              name,
              secretHash: await hashSecret('s3cret'),
              scopes: ['read_registry'],
              repositories: ['team/**'],
            },
          ],
        });
      await k().apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'ci-tokens', namespace: ns, labels: { 'berth.dev/access-tokens': 'tok' } },
        stringData: { 'tokens.yml': await tokenFile('ci') },
      } as KubeObject);
      await applyRegistry('tok', {
        storage: { filesystem: {} },
        auth: { accessTokensFrom: { matchLabels: { 'berth.dev/access-tokens': 'tok' } } },
      });
      await settled('tok');
      const merged = async () => {
        const s = await get('v1', 'Secret', 'tok-access-tokens');
        const file = accessTokenFileSchema.parse(
          load(Buffer.from(s?.data?.['tokens.yml'] ?? '', 'base64').toString('utf8')),
        );
        return file.tokens.map((t) => t.name);
      };
      assert.deepEqual(await merged(), ['ci']);
      const issuer = await get('apps/v1', 'Deployment', 'tok-token-issuer');
      const hash = issuer?.spec?.template?.metadata?.annotations?.['berth.dev/config-hash'];
      const volumes = (issuer?.spec?.template?.spec?.['volumes'] ?? []) as {
        name: string;
        secret?: { secretName?: string };
      }[];
      assert.ok(
        volumes.some((v) => v.secret?.secretName === 'tok-access-tokens'),
        'mounted into the issuer',
      );

      // A second labelled Secret (the watch on Secrets brings the registry back into the queue).
      await k().apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'deploy-tokens', namespace: ns, labels: { 'berth.dev/access-tokens': 'tok' } },
        stringData: { 'tokens.yml': await tokenFile('deploy') },
      } as KubeObject);
      await waitFor(
        'the merged file to include the new token',
        async () => ((await merged()).length === 2 ? true : undefined),
        { timeoutMs: 20_000 },
      );
      assert.deepEqual(await merged(), ['ci', 'deploy']);
      const issuer2 = await get('apps/v1', 'Deployment', 'tok-token-issuer');
      assert.equal(
        issuer2?.spec?.template?.metadata?.annotations?.['berth.dev/config-hash'],
        hash,
        'the issuer reloads the file itself',
      );

      // A broken file is left out and reported.
      await k().apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'broken-tokens', namespace: ns, labels: { 'berth.dev/access-tokens': 'tok' } },
        stringData: { 'tokens.yml': 'version: 2' },
      } as KubeObject);
      const r = await waitFor(
        'the problem to be reported',
        async () => {
          const x = await getRegistry('tok');
          return condition(x, 'Degraded')?.reason === 'AccessTokensInvalid' ? x : undefined;
        },
        { timeoutMs: 20_000 },
      );
      assert.match(condition(r, 'Degraded')?.message ?? '', /broken-tokens\/tokens\.yml/);
      assert.deepEqual(await merged(), ['ci', 'deploy']);
    },
  );

  it(
    'keeps the token-reviewer ClusterRoleBinding listing issuers with ServiceAccount logins',
    step,
    async () => {
      const subjects = async () => {
        const b = await k().get<
          KubeObject & { subjects?: { name: string; namespace: string }[]; roleRef?: { name: string } }
        >({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          name: 'berth-token-reviewers',
        });
        return b === undefined
          ? undefined
          : { role: b.roleRef?.name, subjects: (b.subjects ?? []).map((s) => `${s.namespace}/${s.name}`) };
      };
      await applyRegistry('sa', {
        storage: { filesystem: {} },
        auth: { serviceAccountAccess: { enabled: true } },
      });
      await settled('sa');
      await waitFor('the binding to list the issuer', async () =>
        (await subjects())?.subjects.includes(`${ns}/sa-token-issuer`) ? true : undefined,
      );
      assert.equal((await subjects())?.role, 'berth-token-reviewer');
      const sa = await get('v1', 'ServiceAccount', 'sa-token-issuer');
      assert.equal(
        (sa as { automountServiceAccountToken?: boolean } | undefined)?.automountServiceAccountToken,
        true,
      );
      await applyRegistry('sa', { storage: { filesystem: {} } });
      await settled('sa', (r) => r.metadata.generation === 2);
      await waitFor('the issuer to leave the binding', async () =>
        (await subjects())?.subjects.includes(`${ns}/sa-token-issuer`) === false ? true : undefined,
      );
    },
  );

  it('deletionPolicy Delete puts an ownerReference on the claim', step, async () => {
    await applyRegistry('gone', { storage: { filesystem: {} }, deletionPolicy: 'Delete' });
    const r = await settled('gone');
    const pvc = await get('v1', 'PersistentVolumeClaim', 'gone-data');
    assert.equal(pvc?.metadata.ownerReferences?.[0]?.uid, r.metadata.uid);
    // And back to Retain: the reference goes (server-side apply drops the field the operator no longer sets).
    await applyRegistry('gone', { storage: { filesystem: {} }, deletionPolicy: 'Retain' });
    await settled('gone', (x) => x.metadata.generation === 2);
    await waitFor('the ownerReference to go', async () =>
      (await get('v1', 'PersistentVolumeClaim', 'gone-data'))?.metadata.ownerReferences === undefined
        ? true
        : undefined,
    );
  });
});

describe('render (pure)', () => {
  it('renders the same objects for the same inputs, and changes only what depends on a change', async () => {
    const { renderRegistry } = await import('../../operator/render/registry.ts');
    const { mustParseContainerRegistry } = await import('../../operator/api/index.ts');
    const { generateHttpSecret, generateSigning } = await import('../../operator/render/material.ts');
    const material = {
      signing: await generateSigning('berth-token-issuer'),
      httpSecret: generateHttpSecret(),
    };
    const cr = (spec: Record<string, unknown>) =>
      mustParseContainerRegistry({
        apiVersion: group,
        kind: 'ContainerRegistry',
        metadata: { name: 'p', namespace: 'n', uid: 'u-1', generation: 1 },
        spec,
      });
    const render = (spec: Record<string, unknown>) =>
      renderRegistry({ registry: cr(spec), material, referencedSecrets: {}, defaultImage: 'berth:x' });
    const a = render({ storage: { filesystem: {} } });
    const b = render({ storage: { filesystem: {} } });
    assert.equal(JSON.stringify(a.objects), JSON.stringify(b.objects));
    const c = render({ storage: { filesystem: {}, delete: true } });
    assert.notEqual(c.registryHash, a.registryHash);
    assert.equal(c.issuerHash, a.issuerHash);
    const d = render({ storage: { filesystem: {} }, readOnly: true });
    assert.equal(d.registryHash, a.registryHash, 'read-only mode is switched live');
    for (const o of a.objects) {
      assert.equal(o.metadata.namespace, 'n');
      assert.equal(o.metadata.labels?.['berth.dev/registry'], 'p');
    }
    const s3 = render({
      storage: { s3: { bucket: 'bucket', credentialsSecretRef: { name: 'creds' } } },
      replicas: 3,
    });
    const dep = s3.objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'p-registry',
    ) as unknown as {
      spec: { strategy: { type: string }; template: { spec: { containers: { env: { name: string }[] }[] } } };
    };
    assert.equal(dep.spec.strategy.type, 'RollingUpdate');
    assert.deepEqual(dep.spec.template.spec.containers[0]?.env.map((e) => e.name).sort(), [
      'REGISTRY_HTTP_SECRET',
      'REGISTRY_STORAGE_S3_ACCESSKEY',
      'REGISTRY_STORAGE_S3_SECRETKEY',
    ]);
    assert.ok(s3.objects.some((o) => o.kind === 'PodDisruptionBudget'));
    assert.ok(!s3.objects.some((o) => o.kind === 'PersistentVolumeClaim'));
    const fsDep = a.objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'p-registry',
    ) as unknown as { spec: { strategy: { type: string } } };
    assert.equal(fsDep.spec.strategy.type, 'Recreate', 'one ReadWriteOnce claim: no overlapping pods');
  });
});
