// operator/runtime's leader election on a real coordination.k8s.io Lease: one leader among candidates, a
// released Lease is taken over at once, a Lease whose holder stopped renewing (a killed process) is taken over
// once it expires, and a leader that finds someone else in the Lease steps down.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { waitFor } from '../harness/wait.ts';
import { KubeClient } from '../../operator/runtime/kube-client.ts';
import { LeaderElector, microTime, type Lease } from '../../operator/runtime/leader.ts';

const step = { timeout: 180_000 };
const ns = 'rt-leader';
const timing = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 };

describe('runtime leader election (real kube-apiserver Lease)', () => {
  let cp: ControlPlane | undefined;
  const report = failureReport();
  const clients: KubeClient[] = [];
  const electors: LeaderElector[] = [];

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', ns]);
  }, step);
  afterEach(report.check);
  afterEach(async () => {
    for (const e of electors.splice(0)) await e.stop({ release: false });
  });
  after(async () => {
    report.print({ 'control plane': cp });
    for (const c of clients) c.close();
    await cp?.stop();
  });

  /** Each candidate has its own client (its own connections), like separate processes. */
  function candidate(lease: string, identity: string, events: string[] = []): LeaderElector {
    assert.ok(cp, 'the control plane did not start');
    const client = KubeClient.load(cp.kubeconfigPath);
    clients.push(client);
    const e = new LeaderElector(client, {
      namespace: ns,
      name: lease,
      identity,
      ...timing,
      onStartedLeading: () => events.push(`${identity}:start`),
      onStoppedLeading: () => events.push(`${identity}:stop`),
    });
    electors.push(e);
    return e;
  }

  async function readLease(name: string): Promise<Lease> {
    assert.ok(cp);
    const { stdout } = await cp.kubectl(['-n', ns, 'get', 'lease', name, '-o', 'json']);
    return JSON.parse(stdout) as Lease;
  }

  async function leaderOf(all: LeaderElector[]): Promise<LeaderElector> {
    return waitFor(
      'a leader',
      async () => {
        const leaders = all.filter((e) => e.isLeader());
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 25 },
    );
  }

  it('elects exactly one leader and keeps it while it renews', step, async () => {
    const a = candidate('one', 'a');
    const b = candidate('one', 'b');
    a.start();
    b.start();
    const leader = await leaderOf([a, b]);
    // Over three lease durations: never two leaders, never a change of leader.
    const until = Date.now() + 3 * timing.leaseDurationMs;
    while (Date.now() < until) {
      assert.ok(!(a.isLeader() && b.isLeader()), 'two leaders at once');
      assert.ok(leader.isLeader(), 'the leader lost the lease while renewing');
      await sleep(25);
    }
    const lease = await readLease('one');
    assert.equal(lease.spec?.holderIdentity, leader.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, 2);
    assert.match(lease.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const follower = leader === a ? b : a;
    assert.equal(follower.currentLeader(), leader.identity, 'the follower knows who leads');
  });

  it('a released lease is taken over at once', step, async () => {
    const events: string[] = [];
    const a = candidate('two', 'a', events);
    a.start();
    await leaderOf([a]);
    const b = candidate('two', 'b', events);
    b.start();
    await sleep(600);
    assert.equal(b.isLeader(), false);
    const t0 = Date.now();
    await a.stop(); // releases
    await leaderOf([b]);
    const took = Date.now() - t0;
    assert.ok(took < timing.leaseDurationMs, `takeover after a release took ${String(took)} ms`);
    assert.deepEqual(events, ['a:start', 'a:stop', 'b:start']);
  });

  it('a lease whose holder stopped renewing (killed) is taken over after it expires', step, async () => {
    const a = candidate('three', 'a');
    a.start();
    await leaderOf([a]);
    const b = candidate('three', 'b');
    b.start();
    await sleep(500);
    const before = await readLease('three');
    const t0 = Date.now();
    await a.stop({ release: false }); // what kill -9 looks like: the lease stays held, nobody renews it
    await leaderOf([b]);
    const took = Date.now() - t0;
    assert.ok(took >= timing.leaseDurationMs * 0.75, `took over too early (${String(took)} ms)`);
    assert.ok(took < timing.leaseDurationMs * 4, `took over too late (${String(took)} ms)`);
    const afterLease = await readLease('three');
    assert.equal(afterLease.spec?.holderIdentity, 'b');
    assert.equal(afterLease.spec?.leaseTransitions, (before.spec?.leaseTransitions ?? 0) + 1);
  });

  it('a leader that finds another holder in the lease steps down', step, async () => {
    const events: string[] = [];
    const a = candidate('four', 'a', events);
    a.start();
    await leaderOf([a]);
    // Someone else (a partitioned-away replica's successor, an admin) writes the lease. A merge patch carries
    // no resourceVersion, so it cannot lose a race with the leader's renewals.
    assert.ok(cp);
    await cp.kubectl([
      '-n',
      ns,
      'patch',
      'lease',
      'four',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { holderIdentity: 'intruder', renewTime: microTime(Date.now()), leaseDurationSeconds: 30 },
      }),
    ]);
    await waitFor('a to step down', async () => (a.isLeader() ? undefined : true), {
      timeoutMs: 5_000,
      intervalMs: 25,
    });
    assert.deepEqual(events, ['a:start', 'a:stop']);
    assert.equal(a.currentLeader(), 'intruder');
  });
});
