// Two real berth-operator processes against the real kube-apiserver: both become ready (informers synced), only
// the Lease holder reconciles; after `kill -9` of the leader the other takes the Lease once it expires and
// reconciles what changed meanwhile; SIGTERM makes a leader release the Lease and exit 0.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { spawnDaemon, type Daemon } from '../harness/daemon.ts';
import { freePort } from '../harness/ports.ts';
import { failureReport } from '../harness/report.ts';
import { repoRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';

const step = { timeout: 240_000 };
const ns = 'failover';
const leaseMs = 4_000;

interface Operator {
  name: string;
  daemon: Daemon;
  port: number;
}

interface LeaseJson {
  spec?: { holderIdentity?: string | null; leaseTransitions?: number };
}

interface RegistryJson {
  metadata: { generation?: number };
  status?: { observedGeneration?: number };
}

describe('leader failover with two berth-operator processes', () => {
  let cp: ControlPlane | undefined;
  const operators: Operator[] = [];
  const report = failureReport();

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
    const c = cp;
    await waitFor('the CRD to be established', async () => {
      const r = await c.kubectl(
        [
          'get',
          'crd',
          'containerregistries.berth.dev',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ],
        { check: false },
      );
      return r.stdout.trim() === 'True' ? true : undefined;
    });
    await cp.kubectl(['create', 'namespace', ns]);
  }, step);
  afterEach(report.check);
  after(async () => {
    report.print({ 'control plane': cp, ...Object.fromEntries(operators.map((o) => [o.name, o.daemon])) });
    for (const o of operators) await o.daemon.stop(5_000);
    await cp?.stop();
  });

  async function startOperator(name: string): Promise<Operator> {
    assert.ok(cp);
    const port = await freePort();
    const daemon = spawnDaemon(
      name,
      path.join(repoRoot, 'node_modules/.bin/node'),
      [
        path.join(repoRoot, 'operator/main.ts'),
        `--kubeconfig=${cp.kubeconfigPath}`,
        '--namespace=default',
        '--lease-name=berth-test-leader',
        `--identity=${name}`,
        `--http-addr=127.0.0.1:${String(port)}`,
        '--registry-image=berth:test',
        `--lease-duration-ms=${String(leaseMs)}`,
        '--renew-deadline-ms=3000',
        '--retry-period-ms=500',
        '--log-level=debug',
      ],
      { cwd: repoRoot },
    );
    const op = { name, daemon, port };
    operators.push(op);
    return op;
  }

  async function probe(op: Operator, p: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${String(op.port)}${p}`, {
      signal: AbortSignal.timeout(2_000),
    });
    return { status: res.status, body: await res.text() };
  }

  async function isLeader(op: Operator): Promise<boolean> {
    const { body } = await probe(op, '/metrics');
    return /^berth_operator_leader 1$/m.test(body);
  }

  async function reconciles(op: Operator): Promise<number> {
    const { body } = await probe(op, '/metrics');
    let n = 0;
    for (const m of body.matchAll(
      /^berth_operator_reconcile_total\{controller="containerregistry",result="[^"]+"\} (\d+)$/gm,
    ))
      n += Number(m[1]);
    return n;
  }

  async function lease(): Promise<LeaseJson> {
    assert.ok(cp);
    return JSON.parse(
      (await cp.kubectl(['-n', 'default', 'get', 'lease', 'berth-test-leader', '-o', 'json'])).stdout,
    ) as LeaseJson;
  }

  async function applyRegistry(name: string, del: boolean): Promise<void> {
    assert.ok(cp);
    await cp.kubectl(['-n', ns, 'apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'berth.dev/v1alpha1',
        kind: 'ContainerRegistry',
        metadata: { name },
        spec: { storage: { filesystem: {}, delete: del } },
      }),
    });
  }

  async function reconciled(name: string): Promise<void> {
    assert.ok(cp);
    const c = cp;
    await waitFor(
      `${name} to be reconciled`,
      async () => {
        const r = await c.kubectl(['-n', ns, 'get', 'containerregistry', name, '-o', 'json'], {
          check: false,
        });
        if (r.code !== 0) return undefined;
        const obj = JSON.parse(r.stdout) as RegistryJson;
        return obj.status?.observedGeneration === obj.metadata.generation ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  it('only the leader acts; after kill -9 the other takes over and reconciles', step, async () => {
    const a = await startOperator('operator-a');
    await sleep(300); // let a win the first election, so the test knows whom to kill
    const b = await startOperator('operator-b');
    for (const op of [a, b]) {
      await waitFor(
        `${op.name} /readyz`,
        async () =>
          (await probe(op, '/readyz').catch(() => ({ status: 0 }))).status === 200 ? true : undefined,
        {
          timeoutMs: 60_000,
          abort: () => (op.daemon.running() ? undefined : `${op.name} exited`),
        },
      );
    }
    const leader = await waitFor('one leader', async () => {
      const flags = await Promise.all([a, b].map(isLeader));
      if (flags[0] === true && flags[1] === true) throw new Error('two leaders');
      return flags[0] === true ? a : flags[1] === true ? b : undefined;
    });
    const follower = leader === a ? b : a;
    assert.equal((await lease()).spec?.holderIdentity, leader.name);
    const healthz = JSON.parse((await probe(follower, '/healthz')).body) as { leader?: boolean };
    assert.equal(healthz.leader, false);

    await applyRegistry('one', true);
    await reconciled('one');
    await sleep(500);
    assert.ok((await reconciles(leader)) > 0, 'the leader reconciled');
    assert.equal(await reconciles(follower), 0, 'the follower did nothing');
    assert.equal(await isLeader(follower), false);

    // kill -9: no release, the Lease stays held until it expires.
    const killedAt = Date.now();
    await leader.daemon.kill('SIGKILL');
    // Meanwhile the world changes.
    await applyRegistry('one', false);
    await applyRegistry('two', true);
    await waitFor('the follower to take over', async () => ((await isLeader(follower)) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const took = Date.now() - killedAt;
    assert.ok(took >= leaseMs * 0.75, `took over after ${String(took)} ms, before the lease expired`);
    const l = await lease();
    assert.equal(l.spec?.holderIdentity, follower.name);
    assert.ok((l.spec?.leaseTransitions ?? 0) >= 1);
    await reconciled('one');
    await reconciled('two');
    assert.ok((await reconciles(follower)) > 0, 'the new leader reconciled');

    // Graceful stop: the Lease is released at once and the process exits 0.
    const exit = await follower.daemon.stop(15_000);
    assert.equal(exit.code, 0, follower.daemon.output().slice(-2_000));
    const released = await lease();
    assert.ok(
      released.spec?.holderIdentity === undefined ||
        released.spec.holderIdentity === null ||
        released.spec.holderIdentity === '',
    );
    const logs = follower.daemon.output();
    assert.match(logs, /"msg":"became leader"/);
    assert.match(logs, /"msg":"stopped"/);
    for (const line of logs.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line); // pino JSON lines
  });
});
