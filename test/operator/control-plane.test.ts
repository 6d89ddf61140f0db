// The control-plane harness against the real kube-apiserver and etcd: what the operator tests will
// rely on works (kubectl, CRDs, server-side apply and dry-run, helm, TokenRequest/TokenReview, RBAC,
// and @kubernetes/client-node talking to this server).
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  createServiceAccountToken,
  createUser,
  serviceAccountIssuer,
  startControlPlane,
  writeTokenKubeconfig,
  type ControlPlane,
} from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';

const step = { timeout: 180_000 };

const widgetCrd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.berth.dev
spec:
  group: test.berth.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget, listKind: WidgetList }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              x-kubernetes-validations:
                - rule: "self.size <= 10 || self.big"
                  message: "size above 10 needs big: true"
              properties:
                size: { type: integer, minimum: 1 }
                big: { type: boolean, default: false }
            status:
              type: object
              properties:
                ready: { type: boolean }
`;

function widget(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'test.berth.dev/v1alpha1',
    kind: 'Widget',
    metadata: { name, namespace: 'cp-test' },
    spec,
  });
}

interface Obj {
  metadata?: { name?: string; resourceVersion?: string; managedFields?: { manager?: string }[] };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

describe('control plane harness (real kube-apiserver + etcd)', () => {
  let cp: ControlPlane | undefined;
  const report = failureReport();

  before(async () => {
    const t0 = Date.now();
    cp = await startControlPlane();
    process.stderr.write(`[control-plane] ready in ${String(Date.now() - t0)} ms at ${cp.server}\n`);
    await cp.kubectl(['create', 'namespace', 'cp-test']);
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

  it('serves Kubernetes 1.34', step, async () => {
    const res = await plane().request('GET', '/version');
    assert.equal(res.status, 200);
    const v = JSON.parse(res.body) as { gitVersion?: string; major?: string; minor?: string };
    assert.match(v.gitVersion ?? '', /^v1\.34\.\d+$/);
    assert.equal(v.minor, '34');
    const { stdout } = await plane().kubectl(['version', '-o', 'json']);
    const both = JSON.parse(stdout) as {
      clientVersion?: { minor?: string };
      serverVersion?: { gitVersion?: string };
    };
    assert.equal(both.clientVersion?.minor, '34', 'kubectl is 1.34');
    assert.equal(both.serverVersion?.gitVersion, v.gitVersion);
  });

  it('creates a namespace and a ConfigMap with kubectl', step, async () => {
    const k = plane().kubectl;
    await k(['create', 'namespace', 'cp-configmap']);
    await k(['-n', 'cp-configmap', 'create', 'configmap', 'settings', '--from-literal=mode=fast']);
    const cm = JSON.parse(
      (await k(['-n', 'cp-configmap', 'get', 'configmap', 'settings', '-o', 'json'])).stdout,
    ) as Obj;
    assert.deepEqual(cm.data, { mode: 'fast' });
    const missing = await k(['-n', 'cp-configmap', 'get', 'configmap', 'nope'], { check: false });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NotFound|not found/);
  });

  it(
    'installs a CRD that becomes Established, with schema defaults and CEL rules enforced',
    step,
    async () => {
      const k = plane().kubectl;
      await k(['apply', '-f', '-'], { input: widgetCrd });
      await k(['wait', '--for=condition=Established', 'crd/widgets.test.berth.dev', '--timeout=60s']);
      await k(['apply', '-f', '-'], { input: widget('small', { size: 3 }) });
      const w = JSON.parse(
        (await k(['-n', 'cp-test', 'get', 'widget', 'small', '-o', 'json'])).stdout,
      ) as Obj;
      assert.deepEqual(w.spec, { size: 3, big: false }, 'the structural-schema default is applied');
      const rejected = await k(['apply', '-f', '-'], { input: widget('huge', { size: 50 }), check: false });
      assert.notEqual(rejected.code, 0);
      assert.match(rejected.stderr, /size above 10 needs big: true/);
      const invalid = await k(['apply', '-f', '-'], { input: widget('zero', { size: 0 }), check: false });
      assert.notEqual(invalid.code, 0);
      assert.match(invalid.stderr, /spec\.size/);
    },
  );

  it('server-side apply and server-side dry-run work', step, async () => {
    const k = plane().kubectl;
    const deployment = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'cp-test' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] },
        },
      },
    });
    const dry = await k(
      ['apply', '--server-side', '--field-manager=berth-test', '--dry-run=server', '-o', 'json', '-f', '-'],
      {
        input: deployment,
      },
    );
    const dryObj = JSON.parse(dry.stdout) as Obj & { spec: { strategy?: { type?: string } } };
    assert.equal(dryObj.spec.strategy?.type, 'RollingUpdate', 'server defaults are in the dry-run result');
    const notThere = await k(['-n', 'cp-test', 'get', 'deployment', 'web'], { check: false });
    assert.notEqual(notThere.code, 0, 'a dry run persists nothing');

    const applied = JSON.parse(
      (
        await k(
          [
            'apply',
            '--server-side',
            '--field-manager=berth-test',
            '--show-managed-fields',
            '-o',
            'json',
            '-f',
            '-',
          ],
          {
            input: deployment,
          },
        )
      ).stdout,
    ) as Obj;
    assert.ok(
      applied.metadata?.managedFields?.some((f) => f.manager === 'berth-test'),
      'the apply is recorded under its field manager',
    );
    // Applying the same object again is a no-op: the resourceVersion does not move.
    const again = JSON.parse(
      (
        await k(['apply', '--server-side', '--field-manager=berth-test', '-o', 'json', '-f', '-'], {
          input: deployment,
        })
      ).stdout,
    ) as Obj;
    assert.equal(again.metadata?.resourceVersion, applied.metadata?.resourceVersion);
    // A second manager touching the same field conflicts, as on a real cluster.
    const conflict = await k(['apply', '--server-side', '--field-manager=someone-else', '-f', '-'], {
      input: deployment.replace('"replicas":2', '"replicas":3'),
      check: false,
    });
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /conflict/i);
  });

  it('runs helm, and helm template output is accepted by the API server (dry run)', step, async () => {
    const { helm, kubectl, dir } = plane();
    const { stdout: version } = await helm(['version', '--short']);
    assert.match(version, /^v[34]\.\d+\.\d+/);

    const chart = path.join(dir, 'charts/tiny');
    await mkdir(path.join(chart, 'templates'), { recursive: true });
    await writeFile(
      path.join(chart, 'Chart.yaml'),
      'apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: "1.0"\ntype: application\n',
    );
    await writeFile(path.join(chart, 'values.yaml'), 'replicas: 1\nimage: registry.example/tiny:1\n');
    await writeFile(
      path.join(chart, 'templates/all.yaml'),
      [
        'apiVersion: v1',
        'kind: ServiceAccount',
        'metadata:',
        '  name: {{ .Release.Name }}',
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: {{ .Release.Name }}-config',
        'data:',
        '  release: {{ .Release.Name | quote }}',
        '---',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: {{ .Release.Name }}',
        'spec:',
        '  replicas: {{ .Values.replicas }}',
        '  selector:',
        '    matchLabels: { app: {{ .Release.Name }} }',
        '  template:',
        '    metadata:',
        '      labels: { app: {{ .Release.Name }} }',
        '    spec:',
        '      serviceAccountName: {{ .Release.Name }}',
        '      containers:',
        '        - name: app',
        '          image: {{ .Values.image }}',
        '',
      ].join('\n'),
    );
    const lint = await helm(['lint', chart]);
    assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const { stdout: manifests } = await helm(['template', 'tiny', chart, '--namespace', 'cp-test']);
    assert.match(manifests, /kind: Deployment/);
    const dry = await kubectl(['apply', '--dry-run=server', '-n', 'cp-test', '-f', '-'], {
      input: manifests,
    });
    assert.match(dry.stdout, /serviceaccount\/tiny created \(server dry run\)/);
    assert.match(dry.stdout, /configmap\/tiny-config created \(server dry run\)/);
    assert.match(dry.stdout, /deployment\.apps\/tiny created \(server dry run\)/);
  });

  it(
    'issues ServiceAccount tokens (TokenRequest) that TokenReview authenticates (client-node)',
    step,
    async () => {
      const c = plane();
      const token = await createServiceAccountToken(c, {
        namespace: 'cp-test',
        name: 'reviewer',
        audiences: ['berth'],
      });

      // @kubernetes/client-node, configured only from the harness's kubeconfig file.
      const kc = new KubeConfig();
      kc.loadFromFile(c.kubeconfigPath);
      assert.equal(kc.getCurrentCluster()?.server, c.server);
      const authn = kc.makeApiClient(AuthenticationV1Api);
      const review = await authn.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: ['berth'] },
        },
      });
      assert.equal(review.status?.authenticated, true, JSON.stringify(review.status));
      assert.equal(review.status?.user?.username, 'system:serviceaccount:cp-test:reviewer');
      assert.ok(review.status?.user?.groups?.includes('system:serviceaccounts:cp-test'));
      assert.deepEqual(review.status?.audiences, ['berth']);

      const wrongAudience = await authn.createTokenReview({
        body: { spec: { token, audiences: ['someone-else'] } },
      });
      assert.notEqual(wrongAudience.status?.authenticated, true);
      const forged = await authn.createTokenReview({
        body: { spec: { token: `${token.slice(0, -4)}AAAA` } },
      });
      assert.notEqual(forged.status?.authenticated, true);

      // The token is a JWT from the configured issuer.
      const payloadPart = token.split('.')[1] ?? '';
      const claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as { iss?: string };
      assert.equal(claims.iss, serviceAccountIssuer);

      // client-node reads too: the ServiceAccount the helper created.
      const core = kc.makeApiClient(CoreV1Api);
      const sa = await core.readNamespacedServiceAccount({ name: 'reviewer', namespace: 'cp-test' });
      assert.equal(sa.metadata?.name, 'reviewer');
    },
  );

  it(
    'authenticates ServiceAccount tokens and CA-signed users on requests, and RBAC limits them',
    step,
    async () => {
      const c = plane();
      // A token with the API server's own audience works as a bearer token.
      const token = await createServiceAccountToken(c, { namespace: 'cp-test', name: 'limited' });
      const saKubeconfig = await writeTokenKubeconfig(c, token, 'limited');
      const asSa = (args: string[]): ReturnType<ControlPlane['kubectl']> =>
        c.kubectl([`--kubeconfig=${saKubeconfig}`, ...args], { check: false });
      const whoami = await asSa(['auth', 'whoami', '-o', 'json']);
      assert.equal(whoami.code, 0, whoami.stderr);
      assert.match(whoami.stdout, /system:serviceaccount:cp-test:limited/);
      const denied = await asSa(['-n', 'cp-test', 'get', 'secrets']);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /forbidden/i);

      await c.kubectl([
        '-n',
        'cp-test',
        'create',
        'role',
        'secret-reader',
        '--verb=get,list',
        '--resource=secrets',
      ]);
      await c.kubectl([
        '-n',
        'cp-test',
        'create',
        'rolebinding',
        'limited-reads-secrets',
        '--role=secret-reader',
        '--serviceaccount=cp-test:limited',
      ]);
      const allowed = await asSa(['-n', 'cp-test', 'get', 'secrets']);
      assert.equal(allowed.code, 0, allowed.stderr);

      const user = await createUser(c, 'jane', ['platform-engineers']);
      const asJane = await c.kubectl([`--kubeconfig=${user.kubeconfigPath}`, 'auth', 'whoami', '-o', 'json']);
      const review = JSON.parse(asJane.stdout) as {
        status?: { userInfo?: { username?: string; groups?: string[] } };
      };
      assert.equal(review.status?.userInfo?.username, 'jane');
      assert.ok(review.status?.userInfo?.groups?.includes('platform-engineers'));
      const can = await c.kubectl(
        [`--kubeconfig=${user.kubeconfigPath}`, 'auth', 'can-i', 'create', 'deployments'],
        {
          check: false,
        },
      );
      assert.equal(can.stdout.trim(), 'no');
    },
  );
});
