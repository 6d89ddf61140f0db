// The Helm chart against the real kube-apiserver: lint is clean, the rendered manifests are accepted by
// the API server, `helm install` succeeds (the Deployment is created; nothing runs pods here), and the
// operator's ServiceAccount may do what the operator does and nothing more.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { load, loadAll } from 'js-yaml';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import type { ExecResult } from '../harness/exec.ts';
import { failureReport } from '../harness/report.ts';
import { operatorNodeFlags, registryNodeFlags, repoRoot } from '../harness/tools.ts';

const step = { timeout: 180_000 };
const chart = path.join(repoRoot, 'charts/berth');
const releaseNs = 'berth-system';
const operatorSa = `system:serviceaccount:${releaseNs}:berth`;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

function manifests(yaml: string): Manifest[] {
  return loadAll(yaml).filter((d): d is Manifest => typeof d === 'object' && d !== null);
}

function assertLintClean(res: ExecResult, what: string): void {
  assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, `${what}: ${res.stdout}${res.stderr}`);
  assert.doesNotMatch(res.stdout, /\[(WARNING|ERROR)\]/, `${what}: ${res.stdout}`);
}

describe('image and chart agree', () => {
  it('the Dockerfile uses the Node version the project pins and installs the commands the chart runs', async () => {
    const dockerfile = await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    const pinned = pkg.devDependencies?.['node'];
    assert.ok(pinned !== undefined);
    assert.match(dockerfile, new RegExp(`^ARG NODE_VERSION=${pinned.replace(/\./g, '\\.')}$`, 'm'));
    // Users build on the official slim image; the cluster tests pass a locally built base (BASE_IMAGE).
    assert.match(dockerfile, /^ARG BASE_IMAGE=node:\$\{NODE_VERSION\}-bookworm-slim$/m);
    assert.equal(
      dockerfile.match(/^FROM \$\{BASE_IMAGE\}( AS \w+)?$/gm)?.length,
      2,
      'both stages on BASE_IMAGE',
    );
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER 65532:65532$/m, 'the UID the chart runs as');
    for (const command of ['berth-operator', 'berth-registry']) {
      assert.match(dockerfile, new RegExp(`> /usr/local/bin/${command} `), `${command} is on PATH`);
    }
    assert.ok(
      dockerfile.includes(`exec node ${operatorNodeFlags.join(' ')} /app/operator/cli.ts`),
      'berth-operator runs with the flags the operator bench measures',
    );
    assert.ok(
      dockerfile.includes(`exec node ${registryNodeFlags.join(' ')} /app/registry/cli.ts`),
      'berth-registry runs with the flags the registry bench and tests use',
    );
    const scripts = (
      JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    assert.equal(
      scripts['start'],
      `node ${registryNodeFlags.join(' ')} registry/cli.ts standalone`,
      '`npm start` runs the registry with the same flags',
    );
    const ignore = await readFile(path.join(repoRoot, '.dockerignore'), 'utf8');
    for (const copied of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (copied[1] ?? '').split(' ')) {
        assert.match(
          ignore,
          new RegExp(`^!${source.replace(/\./g, '\\.')}/?$`, 'm'),
          `${source} is in the build context`,
        );
      }
    }
    const deployment = await readFile(path.join(chart, 'templates/deployment.yaml'), 'utf8');
    assert.match(deployment, /command: \["berth-operator"\]/);
  });
});

describe('Helm chart charts/berth on a real API server', () => {
  let cp: ControlPlane | undefined;
  const report = failureReport();

  before(async () => {
    const t0 = Date.now();
    cp = await startControlPlane();
    process.stderr.write(`[chart] control plane ready in ${String(Date.now() - t0)} ms\n`);
    for (const ns of ['team-a', 'team-b', 'berth-dry-run']) await cp.kubectl(['create', 'namespace', ns]);
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

  it('helm lint --strict is clean with the default and the other supported values', step, async () => {
    const { helm } = plane();
    assertLintClean(await helm(['lint', '--strict', chart]), 'default values');
    assertLintClean(
      await helm([
        'lint',
        '--strict',
        chart,
        '--set',
        'replicaCount=2,serviceMonitor.enabled=true,rbac.tokenReview=false,leaderElection.enabled=false',
        '--set',
        'watchNamespaces={team-a,team-b}',
      ]),
      'other values',
    );
  });

  it(
    'renders what the docs promise: hardened Deployment, leader election, optional ServiceMonitor',
    step,
    async () => {
      const { helm } = plane();
      const rendered = manifests(
        (await helm(['template', 'berth', chart, '--namespace', releaseNs, '--set', 'replicaCount=2']))
          .stdout,
      );
      const kinds = rendered.map((m) => `${m.kind}/${m.metadata.name}`).sort();
      assert.deepEqual(kinds, [
        'ClusterRole/berth-manager',
        'ClusterRole/berth-token-reviewer',
        'ClusterRole/berth-token-reviewer-binder',
        'ClusterRoleBinding/berth-manager',
        'ClusterRoleBinding/berth-token-reviewer-binder',
        'Deployment/berth',
        'Role/berth-leader-election',
        'RoleBinding/berth-leader-election',
        'Service/berth-metrics',
        'ServiceAccount/berth',
      ]);
      const deployment = rendered.find((m) => m.kind === 'Deployment') as unknown as {
        spec: {
          replicas: number;
          template: {
            spec: {
              securityContext: Record<string, unknown>;
              containers: {
                command: string[];
                env: { name: string; value?: string }[];
                securityContext: Record<string, unknown>;
                livenessProbe: { httpGet: { path: string; port: string } };
                readinessProbe: { httpGet: { path: string; port: string } };
                ports: { name: string; containerPort: number }[];
              }[];
            };
          };
        };
      };
      assert.equal(deployment.spec.replicas, 2);
      const pod = deployment.spec.template.spec;
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const [container] = pod.containers;
      assert.ok(container);
      assert.deepEqual(container.command, ['berth-operator']);
      assert.deepEqual(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
      assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
      assert.deepEqual(container.ports, [{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
      const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
      assert.equal(env['BERTH_LEADER_ELECTION'], 'true');
      assert.equal(env['BERTH_LEASE_NAME'], 'berth-leader');
      assert.equal(env['BERTH_WATCH_NAMESPACES'], '');
      assert.equal(env['BERTH_REGISTRY_IMAGE'], 'berth:0.1.0');
      assert.equal(env['BERTH_HTTP_ADDR'], ':8080');
      assert.equal(env['BERTH_TOKEN_REVIEWER_CLUSTER_ROLE'], 'berth-token-reviewer');
      assert.equal(env['BERTH_TOKEN_REVIEWER_BINDING'], 'berth-token-reviewers');

      const monitored = manifests(
        (
          await helm([
            'template',
            'berth',
            chart,
            '--namespace',
            releaseNs,
            '--set',
            'serviceMonitor.enabled=true',
          ])
        ).stdout,
      );
      const monitor = monitored.find((m) => m.kind === 'ServiceMonitor');
      assert.ok(monitor, 'serviceMonitor.enabled renders a ServiceMonitor');
      assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');

      const withCrds = manifests((await helm(['template', 'berth', chart, '--include-crds'])).stdout);
      assert.deepEqual(
        withCrds.filter((m) => m.kind === 'CustomResourceDefinition').map((m) => m.metadata.name),
        ['cleanuppolicies.berth.dev', 'containerregistries.berth.dev'],
      );
    },
  );

  it(
    'helm template output (with CRDs) is accepted by the API server (server-side dry run)',
    step,
    async () => {
      const { helm, kubectl } = plane();
      for (const set of ['replicaCount=2', 'watchNamespaces={team-a,team-b},rbac.tokenReview=false']) {
        const { stdout } = await helm([
          'template',
          'dry',
          chart,
          '--namespace',
          'berth-dry-run',
          '--include-crds',
          '--set',
          set,
        ]);
        const dry = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: stdout, check: false });
        assert.equal(dry.code, 0, `${set}: ${dry.stderr}`);
        assert.match(dry.stdout, /deployment\.apps\/dry-berth created \(server dry run\)/);
        assert.match(
          dry.stdout,
          /clusterrole\.rbac\.authorization\.k8s\.io\/dry-berth-manager created \(server dry run\)/,
        );
      }
      const leftover = await kubectl(['-n', 'berth-dry-run', 'get', 'deployments', '-o', 'name']);
      assert.equal(leftover.stdout.trim(), '', 'a dry run persists nothing');
    },
  );

  it('helm install succeeds: CRDs Established, Deployment and RBAC created', step, async () => {
    const { helm, kubectl } = plane();
    const t0 = Date.now();
    await helm(['install', 'berth', chart, '--namespace', releaseNs, '--create-namespace']);
    process.stderr.write(`[chart] helm install took ${String(Date.now() - t0)} ms\n`);
    const status = JSON.parse(
      (await helm(['status', 'berth', '--namespace', releaseNs, '-o', 'json'])).stdout,
    ) as {
      info?: { status?: string };
    };
    assert.equal(status.info?.status, 'deployed');
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/containerregistries.berth.dev',
      'crd/cleanuppolicies.berth.dev',
      '--timeout=60s',
    ]);
    const deployment = load(
      (await kubectl(['-n', releaseNs, 'get', 'deployment', 'berth', '-o', 'yaml'])).stdout,
    ) as { spec?: { template?: { spec?: { serviceAccountName?: string } } } };
    assert.equal(deployment.spec?.template?.spec?.serviceAccountName, 'berth');
    await kubectl([
      '-n',
      releaseNs,
      'get',
      'serviceaccount/berth',
      'role/berth-leader-election',
      'service/berth-metrics',
    ]);
    await kubectl(['get', 'clusterrole/berth-manager', 'clusterrolebinding/berth-manager']);
  });

  async function can(user: string, args: string[]): Promise<boolean> {
    const res = await plane().kubectl(['auth', 'can-i', `--as=${user}`, ...args], { check: false });
    const answer = res.stdout.trim();
    assert.ok(answer === 'yes' || answer === 'no', `can-i ${args.join(' ')}: ${res.stdout}${res.stderr}`);
    return answer === 'yes';
  }

  it('RBAC: the operator may do what it does, and not more', step, async () => {
    const allowed: string[][] = [
      ['list', 'containerregistries.berth.dev', '--all-namespaces'],
      ['watch', 'cleanuppolicies.berth.dev', '--all-namespaces'],
      ['patch', 'containerregistries.berth.dev', '--subresource=status', '-n', 'team-a'],
      ['update', 'containerregistries.berth.dev', '--subresource=finalizers', '-n', 'team-a'],
      ['create', 'deployments.apps', '-n', 'team-a'],
      ['patch', 'services', '-n', 'team-b'],
      ['create', 'secrets', '-n', 'team-a'],
      ['list', 'secrets', '--all-namespaces'],
      ['delete', 'persistentvolumeclaims', '-n', 'team-a'],
      ['create', 'ingresses.networking.k8s.io', '-n', 'team-a'],
      ['create', 'poddisruptionbudgets.policy', '-n', 'team-a'],
      ['create', 'jobs.batch', '-n', 'team-a'],
      ['watch', 'pods', '--all-namespaces'],
      ['patch', 'pods', '-n', 'team-a'],
      ['get', 'pods', '--subresource=log', '-n', 'team-a'],
      ['create', 'events.events.k8s.io', '-n', 'team-a'],
      ['create', 'leases.coordination.k8s.io', '-n', releaseNs],
      ['update', 'leases.coordination.k8s.io/berth-leader', '-n', releaseNs],
      ['bind', 'clusterroles.rbac.authorization.k8s.io/berth-token-reviewer'],
      ['patch', 'clusterrolebindings.rbac.authorization.k8s.io/berth-token-reviewers'],
    ];
    const denied: string[][] = [
      ['create', 'containerregistries.berth.dev', '-n', 'team-a'],
      ['delete', 'containerregistries.berth.dev', '-n', 'team-a'],
      ['create', 'pods', '-n', 'team-a'],
      ['delete', 'pods', '-n', 'team-a'],
      ['create', 'pods', '--subresource=exec', '-n', 'team-a'],
      ['create', 'cronjobs.batch', '-n', 'team-a'],
      ['create', 'roles.rbac.authorization.k8s.io', '-n', 'team-a'],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', 'team-a'],
      ['update', 'leases.coordination.k8s.io/someone-else', '-n', releaseNs],
      ['create', 'leases.coordination.k8s.io', '-n', 'team-a'],
      ['get', 'nodes'],
      ['delete', 'namespaces'],
      ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'tokenreviews.authentication.k8s.io'],
      ['bind', 'clusterroles.rbac.authorization.k8s.io/cluster-admin'],
      ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
      ['delete', 'clusterrolebindings.rbac.authorization.k8s.io/cluster-admin'],
      ['patch', 'clusterrolebindings.rbac.authorization.k8s.io/berth-manager'],
      ['impersonate', 'users'],
    ];
    const wrong: string[] = [];
    for (const args of allowed)
      if (!(await can(operatorSa, args))) wrong.push(`denied but needed: ${args.join(' ')}`);
    for (const args of denied)
      if (await can(operatorSa, args)) wrong.push(`allowed but not needed: ${args.join(' ')}`);
    assert.deepEqual(wrong, []);
  });

  it('RBAC: the operator can bind the token-reviewer role to an issuer, and nothing else', step, async () => {
    const { kubectl } = plane();
    const binding = (role: string, name = 'berth-token-reviewers'): string =>
      JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'registry-token-issuer', namespace: 'team-a' }],
      });
    const asOperator = ['--as', operatorSa];
    const ok = await kubectl(
      [...asOperator, 'apply', '--server-side', '--field-manager=berth-operator', '-f', '-'],
      { input: binding('berth-token-reviewer'), check: false },
    );
    assert.equal(ok.code, 0, ok.stderr);
    // The issuer's ServiceAccount may now create TokenReviews (the operator itself still may not).
    assert.equal(
      await can('system:serviceaccount:team-a:registry-token-issuer', [
        'create',
        'tokenreviews.authentication.k8s.io',
      ]),
      true,
    );
    const escalate = await kubectl([...asOperator, 'create', '-f', '-'], {
      input: binding('cluster-admin', 'berth-gets-admin'),
      check: false,
    });
    assert.notEqual(escalate.code, 0, 'binding cluster-admin must be refused');
    assert.match(escalate.stderr, /forbidden/i);
    const del = await kubectl([...asOperator, 'delete', 'clusterrolebinding', 'berth-token-reviewers'], {
      check: false,
    });
    assert.equal(del.code, 0, del.stderr);
  });

  it('watchNamespaces limits the operator to those namespaces', step, async () => {
    const { helm } = plane();
    await helm([
      'install',
      'scoped',
      chart,
      '--namespace',
      'berth-scoped',
      '--create-namespace',
      '--set',
      'watchNamespaces={team-a}',
    ]);
    const sa = 'system:serviceaccount:berth-scoped:scoped-berth';
    assert.equal(await can(sa, ['create', 'deployments.apps', '-n', 'team-a']), true);
    assert.equal(await can(sa, ['list', 'containerregistries.berth.dev', '-n', 'team-a']), true);
    assert.equal(await can(sa, ['create', 'deployments.apps', '-n', 'team-b']), false);
    assert.equal(await can(sa, ['list', 'secrets', '--all-namespaces']), false);
    assert.equal(
      await can(sa, ['update', 'leases.coordination.k8s.io/scoped-berth-leader', '-n', 'berth-scoped']),
      true,
    );
  });
});
