// The CleanupPolicy controller against a real kube-apiserver, with the operator running in this process (no
// kubelet: registries never become Ready here, so no run deletes anything; the runs themselves are shown on the
// real cluster, test/cluster/cleanup-policy.test.ts). What is shown: conditions say why a policy cannot run
// (registry missing, not Ready, an RE2-refused regex named by field), a run requested meanwhile waits, the next
// run follows the cadence and saving a changed policy starts the interval again (GitLab's behaviour).
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pino } from 'pino';
import { readdir } from 'node:fs/promises';
import { parseOperatorConfig, startOperator, type RunningOperator } from '../../operator/operator.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { repoRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import { conditionOf, getObject, type KubeObject } from '../harness/kube.ts';

const ns = 'cleanup';
const day = 24 * 60 * 60 * 1000;

interface PolicyStatus {
  observedGeneration?: number;
  nextRun?: string;
  lastRun?: unknown;
  operation?: unknown;
}

describe('CleanupPolicy controller (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let operator: RunningOperator | undefined;
  const report = failureReport();
  const operatorLog: string[] = [];

  const kubectl = (args: readonly string[], input?: string) => {
    assert.ok(cp);
    return cp.kubectl(args, input === undefined ? {} : { input });
  };
  const apply = (obj: unknown) =>
    kubectl(['apply', '--server-side', '--field-manager=test', '-f', '-'], JSON.stringify(obj));
  const policy = async (name: string) => {
    assert.ok(cp);
    return getObject(cp, ['cleanuppolicy', '-n', ns, name]);
  };
  const statusOf = (p: KubeObject | undefined) => (p?.status ?? {}) as PolicyStatus;
  const applyPolicy = (name: string, spec: Record<string, unknown>) =>
    apply({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'CleanupPolicy',
      metadata: { name, namespace: ns },
      spec: { registryRef: { name: 'registry' }, ...spec },
    });
  const conditionReason = (name: string, type: string, reason: string) =>
    waitFor(`${name}: ${type} ${reason}`, async () => {
      const p = await policy(name);
      const c = conditionOf(p, type);
      const generation = (p?.metadata as { generation?: number } | undefined)?.generation;
      return c?.reason === reason && statusOf(p).observedGeneration === generation ? p : undefined;
    });

  /** The cleanup controller's reconciles so far (the operator's /metrics). */
  const reconciles = async (): Promise<number> => {
    assert.ok(operator);
    const text = await (await fetch(`http://${operator.address.replace(/^http:\/\//, '')}/metrics`)).text();
    let total = 0;
    for (const m of text.matchAll(
      /^berth_operator_reconcile_total\{[^}]*controller="cleanuppolicy"[^}]*\} (\d+)/gm,
    )) {
      total += Number(m[1]);
    }
    return total;
  };

  before(
    async () => {
      cp = await startControlPlane();
      const crdDir = path.join(repoRoot, 'crds');
      for (const f of (await readdir(crdDir)).filter((f) => f.endsWith('.yaml')).sort()) {
        await cp.kubectl(['apply', '--server-side', '-f', path.join(crdDir, f)]);
      }
      await waitFor('the CRDs to be established', async () =>
        (await cp?.kubectl(['get', 'cleanuppolicies', '-A'], { check: false }))?.code === 0
          ? true
          : undefined,
      );
      await cp.kubectl(['create', 'namespace', ns]);
      const config = parseOperatorConfig(
        ['--kubeconfig', cp.kubeconfigPath, '--namespace', 'default', '--http-addr', '127.0.0.1:0'],
        {},
      );
      const logger = pino(
        { level: 'debug' },
        { write: (line: string) => void operatorLog.push(line.trimEnd()) },
      );
      operator = await startOperator(config, logger);
    },
    { timeout: 240_000 },
  );
  afterEach(report.check);
  after(async () => {
    report.print({ 'control plane': cp, operator: { output: () => operatorLog.join('\n') } });
    await operator?.stop();
    await cp?.stop();
  });

  it('a policy whose registry does not exist: not Ready, says which registry, a requested run waits', async () => {
    await applyPolicy('orphan', { cadence: '1d' });
    const p = await conditionReason('orphan', 'RegistryReady', 'RegistryNotFound');
    assert.equal(conditionOf(p, 'Ready')?.status, 'False');
    assert.match(
      conditionOf(p, 'RegistryReady')?.message ?? '',
      /no ContainerRegistry registry in namespace cleanup/,
    );
    assert.equal(conditionOf(p, 'LastRunSucceeded')?.reason, 'NoRunYet');
    await kubectl(['-n', ns, 'annotate', 'cleanuppolicy', 'orphan', 'berth.dev/run=now']);
    await new Promise((r) => setTimeout(r, 3_000));
    const after = statusOf(await policy('orphan'));
    assert.equal(after.lastRun, undefined, 'no run without a registry');
    assert.equal(after.operation, undefined);
  });

  it('a policy whose registry is missing costs no hot loop (a handful of reconciles in 10 s)', async () => {
    const before = await reconciles();
    assert.ok(before > 0, 'the cleanup controller has reconciled (the metric is read)');
    await new Promise((r) => setTimeout(r, 10_000));
    const delta = (await reconciles()) - before;
    assert.ok(delta <= 3, `${String(delta)} reconciles of the cleanup controller in 10 s`);
  });

  it('a bad cron schedule is refused by the API server, naming the field', async () => {
    const res = await kubectl(
      ['apply', '--server-side', '--field-manager=test', '-f', '-'],
      JSON.stringify({
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'CleanupPolicy',
        metadata: { name: 'bad-cron', namespace: ns },
        spec: { registryRef: { name: 'registry' }, schedule: '61 * * * *' },
      }),
    ).catch((err: unknown) => ({ code: 1, stderr: String(err), stdout: '' }));
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /spec\.schedule/);
  });

  it('a registry that is not Ready: RegistryNotReady', async () => {
    await apply({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'ContainerRegistry',
      metadata: { name: 'registry', namespace: ns },
      spec: { storage: { filesystem: { size: '1Gi' }, delete: true } },
    });
    await conditionReason('orphan', 'RegistryReady', 'RegistryNotReady');
  });

  it('the next run follows the cadence, and saving a changed policy starts the interval again', async () => {
    const first = Date.parse(statusOf(await policy('orphan')).nextRun ?? '');
    assert.ok(
      Math.abs(first - (Date.now() + day)) < 5 * 60_000,
      `about a day ahead: ${new Date(first).toISOString()}`,
    );
    await applyPolicy('orphan', { cadence: '7d' });
    const p = await waitFor('the new next run', async () => {
      const s = statusOf(await policy('orphan'));
      const next = Date.parse(s.nextRun ?? '');
      return next - Date.now() > 6 * day ? next : undefined;
    });
    assert.ok(
      Math.abs(p - (Date.now() + 7 * day)) < 5 * 60_000,
      `a week ahead: ${new Date(p).toISOString()}`,
    );
    await applyPolicy('orphan', { schedule: '30 2 * * *' });
    const cron = await waitFor('the cron next run', async () => {
      const next = statusOf(await policy('orphan')).nextRun;
      return next?.endsWith('T02:30:00Z') === true ? next : undefined;
    });
    assert.ok(Date.parse(cron) - Date.now() <= day, cron);
  });

  it('a regex RE2 refuses (lookbehind, a syntax error) is refused by the API server, naming the field', async () => {
    for (const [field, pattern] of [
      ['nameRegexKeep', '(?<!x)y'],
      ['nameRegex', 'v(1'],
    ] as const) {
      const res = await kubectl(
        ['apply', '--server-side', '--field-manager=test', '-f', '-'],
        JSON.stringify({
          apiVersion: 'berth.dev/v1alpha1',
          kind: 'CleanupPolicy',
          metadata: { name: 'bad-regex', namespace: ns },
          spec: { registryRef: { name: 'registry' }, cadence: '1d', [field]: pattern },
        }),
      ).catch((err: unknown) => ({ code: 1, stderr: String(err), stdout: '' }));
      assert.notEqual(res.code, 0, `${field}: ${pattern} accepted`);
      assert.match(res.stderr, new RegExp(`spec\\.${field}`), res.stderr);
    }
  });

  it('a regex RE2 accepts but JavaScript would read differently (\\Q…\\E): InvalidSpec naming the field', async () => {
    await applyPolicy('bad', { cadence: '1d', nameRegexKeep: '\\Qv1.0\\E' });
    const p = await conditionReason('bad', 'Ready', 'InvalidSpec');
    const message = conditionOf(p, 'Ready')?.message ?? '';
    assert.match(message, /spec\.nameRegexKeep/);
    assert.match(message, /\\Q/);
  });

  it('enabled: false: the policy does nothing and says so', async () => {
    await applyPolicy('off', { cadence: '1d', enabled: false });
    const p = await conditionReason('off', 'Ready', 'Disabled');
    assert.equal(statusOf(p).nextRun, undefined);
  });
});
