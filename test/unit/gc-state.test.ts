// The garbage-collection operation's state machine (operator/operations/garbage-collection/state.ts): when a
// run starts, each phase's transitions, the outcomes recorded, and an operator restarted in every phase — the
// persisted state alone resumes or unwinds the run, and the registry never stays read-only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  maintenanceReadOnly,
  next,
  type GcOperation,
  type JobObserved,
  type Limits,
  type Observed,
  type PodMode,
  type Step,
} from '../../operator/operations/garbage-collection/state.ts';
import { collectorJob, observeJob, parseSummary } from '../../operator/operations/garbage-collection/job.ts';
import {
  msToNextRun,
  scheduleDue,
  windowOpen,
} from '../../operator/operations/garbage-collection/schedule.ts';

const t0 = new Date('2030-01-02T03:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const limits: Limits = { proofTimeoutMs: 60_000, jobMarginMs: 30_000, pollMs: 1_000, releaseAfterMs: 30_000 };

const pods = (readOnly: boolean | undefined, n = 2): PodMode[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `reg-registry-${String(i)}`,
    ...(readOnly === undefined ? { error: 'connect ECONNREFUSED' } : { readOnly }),
  }));

function observed(over: Partial<Observed> = {}): Observed {
  return {
    now: t0,
    generation: 1,
    deleting: false,
    spec: { deleteUntagged: false, dryRun: false, suspend: false, timeoutSeconds: 600, readOnly: false },
    scheduleDue: false,
    windowOpen: true,
    fleet: [],
    ...over,
  };
}

const ask = (over: Partial<Observed> = {}) => observed({ request: 'now', ...over });
const types = (s: Step) => s.actions.map((a) => a.type);

/** A run started on demand, as persisted. */
function started(over: Partial<Observed> = {}): GcOperation {
  const op = next(undefined, ask(over), limits).operation;
  assert.ok(op);
  return op;
}

describe('garbage collection: starting a run', () => {
  it('when idle, the condition keeps the outcome of the last run readable (e.g. the pod that never confirmed)', () => {
    const last = {
      id: 'gc-2',
      trigger: 'OnDemand' as const,
      request: 'now',
      startTime: t0.toISOString(),
      completionTime: t0.toISOString(),
      result: 'Failed' as const,
      dryRun: false,
      message: 'read-only mode was not confirmed in time (not confirmed: reg-registry-1 (no answer))',
    };
    const s = next(undefined, observed({ last }), limits);
    assert.equal(s.collecting.reason, 'Idle');
    assert.match(s.collecting.message, /last run gc-2: Failed: .*reg-registry-1/);
  });

  it('starts on a new annotation value, entering read-only first, and says so in an Event', () => {
    const s = next(undefined, ask(), limits);
    assert.equal(s.operation?.phase, 'EnteringReadOnly');
    assert.equal(s.operation.trigger, 'OnDemand');
    assert.equal(s.operation.request, 'now');
    assert.equal(s.operation.job, 'Pending');
    assert.deepEqual(types(s), ['event']);
    assert.equal(s.collecting.status, true);
    assert.equal(maintenanceReadOnly(s.operation), true);
  });

  it('does not start again for an acknowledged value, nor without a trigger', () => {
    const last = {
      id: 'gc-1',
      trigger: 'OnDemand' as const,
      request: 'now',
      startTime: t0.toISOString(),
      completionTime: t0.toISOString(),
      result: 'Succeeded' as const,
      dryRun: false,
      message: 'ok',
    };
    assert.equal(next(undefined, ask({ last }), limits).operation, undefined);
    assert.equal(next(undefined, observed(), limits).operation, undefined);
    assert.equal(next(undefined, observed({ request: '' }), limits).operation, undefined);
  });

  it('starts a scheduled run, keeping the last acknowledged request', () => {
    const s = next(undefined, observed({ scheduleDue: true }), limits);
    assert.equal(s.operation?.trigger, 'Schedule');
  });

  it('waits while suspended, while another operation runs, and outside maintenance windows', () => {
    const suspended = next(undefined, ask({ spec: { ...observed().spec, suspend: true } }), limits);
    assert.equal(suspended.operation, undefined);
    assert.equal(suspended.collecting.reason, 'Suspended');
    const busy = next(undefined, ask({ otherOperation: 'StorageMigration' }), limits);
    assert.equal(busy.operation, undefined);
    assert.equal(busy.collecting.reason, 'Waiting');
    assert.match(busy.collecting.message, /StorageMigration/);
    const closed = next(undefined, ask({ windowOpen: false }), limits);
    assert.equal(closed.operation, undefined);
    assert.match(closed.collecting.message, /maintenance window/);
  });

  it('a dry run skips the read-only phases (and so needs no window)', () => {
    const s = next(undefined, ask({ windowOpen: false, spec: { ...observed().spec, dryRun: true } }), limits);
    assert.equal(s.operation?.phase, 'Collecting');
    assert.equal(s.operation.dryRun, true);
    assert.equal(maintenanceReadOnly(s.operation), false);
    assert.equal(s.readOnly?.status, false);
  });

  it('does nothing for a registry being deleted', () => {
    assert.equal(next(undefined, ask({ deleting: true }), limits).operation, undefined);
  });
});

describe('garbage collection: EnteringReadOnly', () => {
  it('waits until every pod confirms read-only, naming the others', () => {
    const op = started();
    const partial = next(
      op,
      observed({ now: at(5), fleet: [...pods(true, 1), { name: 'b', readOnly: false }] }),
      limits,
    );
    assert.equal(partial.operation?.phase, 'EnteringReadOnly');
    assert.match(partial.operation.message ?? '', /b \(read-write\)/);
    assert.deepEqual(partial.actions, []);
    assert.equal(next(op, observed({ now: at(5), fleet: [] }), limits).operation?.phase, 'EnteringReadOnly');
  });

  it('goes on to Collecting and creates the Job once all pods are read-only', () => {
    const s = next(started(), observed({ now: at(5), fleet: pods(true) }), limits);
    assert.equal(s.operation?.phase, 'Collecting');
    assert.deepEqual(types(s), ['createJob']);
    assert.equal(s.readOnly?.status, true);
    assert.equal(maintenanceReadOnly(s.operation), true);
  });

  it('a pod that never confirms: no Job, back to read-write, the pod named', () => {
    const s = next(
      started(),
      observed({ now: at(61), fleet: [...pods(true, 1), ...pods(undefined, 1)] }),
      limits,
    );
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.deepEqual(types(s), []);
    assert.equal(s.operation.outcome?.result, 'Failed');
    assert.match(s.operation.outcome?.message ?? '', /reg-registry-0 \(no answer/);
    assert.equal(maintenanceReadOnly(s.operation), false);
  });

  it('a spec change aborts before collecting', () => {
    const s = next(started(), observed({ now: at(5), generation: 2, fleet: pods(true) }), limits);
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.equal(s.operation.outcome?.result, 'Aborted');
  });
});

function collecting(over: Partial<GcOperation> = {}): GcOperation {
  const op = next(started(), observed({ now: at(5), fleet: pods(true) }), limits).operation;
  assert.ok(op);
  return { ...op, ...over };
}

describe('garbage collection: Collecting', () => {
  const ok: JobObserved = {
    state: 'Succeeded',
    summary: { manifestsDeleted: 1, blobsDeleted: 3, bytesFreed: 1234 },
  };

  it('records the Job once seen, and waits for it', () => {
    const s = next(collecting(), observed({ now: at(10), job: { state: 'Running' } }), limits);
    assert.equal(s.operation?.job, 'Created');
    assert.deepEqual(s.actions, []);
  });

  it('a finished Job leads to LeavingReadOnly with its figures', () => {
    const s = next(collecting({ job: 'Created' }), observed({ now: at(30), job: ok }), limits);
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.deepEqual(s.operation.outcome, {
      result: 'Succeeded',
      message: 'collection completed',
      manifestsDeleted: 1,
      blobsDeleted: 3,
      bytesFreed: 1234,
    });
  });

  it('a Job past its deadline is TimedOut; a failed one Failed with its error; a deleted one Failed', () => {
    const timedOut = next(
      collecting({ job: 'Created' }),
      observed({ job: { state: 'Failed', deadlineExceeded: true } }),
      limits,
    );
    assert.equal(timedOut.operation?.outcome?.result, 'TimedOut');
    const failed = next(
      collecting({ job: 'Created' }),
      observed({ job: { state: 'Failed', summary: { error: 'storage unreachable' } } }),
      limits,
    );
    assert.equal(failed.operation?.outcome?.result, 'Failed');
    assert.match(failed.operation.outcome?.message ?? '', /storage unreachable/);
    const deleted = next(collecting({ job: 'Created' }), observed(), limits);
    assert.equal(deleted.operation?.phase, 'LeavingReadOnly');
    assert.match(deleted.operation.outcome?.message ?? '', /deleted/);
  });

  it('a Job that outlives timeout + margin is deleted and the run ends TimedOut', () => {
    const s = next(
      collecting({ job: 'Created' }),
      observed({ now: at(5 + 600 + 31), job: { state: 'Running' } }),
      limits,
    );
    assert.equal(s.operation?.outcome?.result, 'TimedOut');
    assert.deepEqual(types(s), ['deleteJob']);
  });

  it('a spec change stops the Job and unwinds', () => {
    const s = next(
      collecting({ job: 'Created' }),
      observed({ generation: 2, job: { state: 'Running' } }),
      limits,
    );
    assert.equal(s.operation?.outcome?.result, 'Aborted');
    assert.deepEqual(types(s), ['deleteJob']);
  });

  it('a dry run ends at once with the figures, never read-only', () => {
    const op = next(undefined, ask({ spec: { ...observed().spec, dryRun: true } }), limits).operation;
    assert.ok(op);
    const s = next({ ...op, job: 'Created' }, observed({ now: at(20), job: ok }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.dryRun, true);
    assert.equal(s.last.readOnlySeconds, undefined);
    assert.equal(s.last.blobsDeleted, 3);
  });
});

describe('garbage collection: LeavingReadOnly', () => {
  const leaving = () =>
    next(
      collecting({ job: 'Created' }),
      observed({ now: at(30), job: { state: 'Succeeded', summary: { blobsDeleted: 2 } } }),
      limits,
    ).operation;

  it('waits for every pod to report read-write, then records the run', () => {
    const op = leaving();
    assert.ok(op);
    const still = next(op, observed({ now: at(32), fleet: pods(true) }), limits);
    assert.equal(still.operation?.phase, 'LeavingReadOnly');
    assert.equal(still.readOnly?.status, true);
    const s = next(op, observed({ now: at(40), fleet: pods(false) }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.result, 'Succeeded');
    assert.equal(s.last.readOnlySeconds, 40);
    assert.equal(s.last.blobsDeleted, 2);
    assert.equal(s.last.request, 'now');
    assert.equal(s.readOnly?.status, false);
    assert.deepEqual(types(s), ['event']);
  });

  it('with spec.readOnly set, returns to read-only (what the user asked)', () => {
    const op = leaving();
    assert.ok(op);
    const spec = { ...observed().spec, readOnly: true };
    assert.equal(next(op, observed({ now: at(40), spec, fleet: pods(true) }), limits).operation, undefined);
  });

  it('finishes even if a pod never confirms (its config is read-write), saying which', () => {
    const op = leaving();
    assert.ok(op);
    const s = next(op, observed({ now: at(30 + 61), fleet: pods(undefined, 1) }), limits);
    assert.equal(s.operation, undefined);
    assert.match(s.last?.message ?? '', /not confirmed in time by reg-registry-0/);
  });
});

describe('garbage collection: operator restarted in each phase', () => {
  // A restart loses everything but status.operation: the next reconcile sees the persisted state and the
  // world as it is. Drive each restarted run to its end and check the registry ends read-write.
  function runToEnd(op: GcOperation | undefined, world: (o: GcOperation) => Partial<Observed>): Step {
    let step: Step | undefined;
    let cur = op;
    for (let i = 0, s = 100; i < 20 && cur !== undefined; i++, s += 10) {
      step = next(cur, observed({ now: at(s), ...world(cur) }), limits);
      cur = step.operation;
    }
    assert.ok(step);
    assert.equal(step.operation, undefined, 'the run ended');
    assert.equal(step.readOnly?.status, false, 'read-write at the end');
    return step;
  }
  // The world after a restart: pods follow the config the operation's phase calls for.
  const fleetFor = (o: GcOperation) => pods(maintenanceReadOnly(o));

  it('in EnteringReadOnly: resumes (proves, collects, leaves)', () => {
    let jobCreated = false;
    const end = runToEnd(started(), (o) => {
      if (o.phase === 'Collecting' && o.job === 'Pending') jobCreated = true;
      return { fleet: fleetFor(o), ...(jobCreated ? { job: { state: 'Succeeded' } } : {}) };
    });
    assert.equal(end.last?.result, 'Succeeded');
  });

  it('in Collecting before the Job was created: creates it (again) and goes on', () => {
    const s = next(collecting(), observed({ now: at(100), fleet: pods(true) }), limits);
    assert.equal(s.operation?.phase, 'Collecting');
    assert.deepEqual(types(s), ['createJob']);
  });

  it('in Collecting with the Job running or finished: follows it to the end', () => {
    const end = runToEnd(collecting({ job: 'Created' }), (o) => ({
      fleet: fleetFor(o),
      job: { state: 'Succeeded', summary: { blobsDeleted: 5 } },
    }));
    assert.equal(end.last?.blobsDeleted, 5);
  });

  it('in Collecting with the Job gone meanwhile: records a failure and unwinds', () => {
    const end = runToEnd(collecting({ job: 'Created' }), (o) => ({ fleet: fleetFor(o) }));
    assert.equal(end.last?.result, 'Failed');
  });

  it('in LeavingReadOnly with an aborted Job still running: deletes it and finishes', () => {
    const op: GcOperation = {
      ...collecting({ job: 'Created' }),
      phase: 'LeavingReadOnly',
      outcome: { result: 'Aborted', message: 'the spec changed' },
    };
    const s = next(op, observed({ now: at(100), fleet: pods(false), job: { state: 'Running' } }), limits);
    assert.deepEqual(types(s), ['deleteJob', 'event']);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.result, 'Aborted');
  });

  it('never leaves the config read-only once the operation is gone', () => {
    assert.equal(maintenanceReadOnly(undefined), false);
    assert.equal(maintenanceReadOnly({ type: 'StorageMigration', phase: 'Collecting' }), false);
  });
});

describe('garbage collection: the Job and its summary', () => {
  it('parses the last JSON line of a termination message', () => {
    assert.deepEqual(parseSummary('progress\n{"blobsDeleted":3,"bytesFreed":9}\n'), {
      blobsDeleted: 3,
      bytesFreed: 9,
    });
    assert.equal(parseSummary('no json'), undefined);
    assert.equal(parseSummary(undefined), undefined);
  });

  it('reads a Job deadline as a timeout and a completion as success', () => {
    const failed = observeJob(
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'j' },
        status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] },
      },
      [],
    );
    assert.equal(failed.deadlineExceeded, true);
    const done = observeJob(
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'j' },
        status: { conditions: [{ type: 'Complete', status: 'True' }] },
      },
      [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p' },
          status: {
            containerStatuses: [
              {
                name: 'garbage-collect',
                state: { terminated: { exitCode: 0, message: '{"blobsDeleted":1}' } },
              },
            ],
          },
        },
      ],
    );
    assert.deepEqual(done, { state: 'Succeeded', summary: { blobsDeleted: 1 } });
  });
});

describe('garbage collection: schedule and maintenance windows (UTC)', () => {
  const now = new Date('2030-01-02T03:02:10Z');
  it('a cron time in the last minutes is due once', () => {
    assert.equal(scheduleDue('0 3 * * *', undefined, now), true);
    assert.equal(scheduleDue('0 3 * * *', new Date('2030-01-02T03:00:30Z'), now), false);
    assert.equal(scheduleDue('0 4 * * *', undefined, now), false);
    assert.equal(scheduleDue(undefined, undefined, now), false);
    assert.equal(
      scheduleDue('0 3 * * *', undefined, new Date('2030-01-02T03:30:00Z')),
      false,
      'missed, not caught up',
    );
  });
  it('a window is open from its cron time for its duration', () => {
    assert.equal(windowOpen(undefined, now), true);
    assert.equal(windowOpen([{ schedule: '0 3 * * *', duration: '1h' }], now), true);
    assert.equal(windowOpen([{ schedule: '0 1 * * *', duration: '1h' }], now), false);
  });
  it('requeues just after the next cron time', () => {
    assert.equal(msToNextRun('*/5 * * * *', now), (2 * 60 + 50 + 1) * 1000);
  });
});

describe('garbage collection: the collector Job', () => {
  const registry = {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team', uid: 'u-1' },
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reg-registry', namespace: 'team' },
    spec: {
      template: {
        spec: {
          serviceAccountName: 'reg-registry',
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'reg-data' } }],
          containers: [
            {
              name: 'registry',
              image: 'berth:dev',
              args: ['serve', '/etc/berth/config/config.yml'],
              volumeMounts: [{ name: 'data', mountPath: '/var/lib/registry' }],
              readinessProbe: { httpGet: { path: '/debug/health', port: 5000 } },
            },
          ],
        },
      },
    },
  };
  const job = (sameNode: boolean) =>
    collectorJob({
      registry,
      deployment,
      name: 'reg-gc-1',
      dryRun: true,
      deleteUntagged: true,
      timeoutSeconds: 600,
      sameNodeAsRegistry: sameNode,
    });

  it('runs garbage-collect with the registry image, volumes and config, once, within the timeout', () => {
    const j = job(false);
    const spec = j.spec as {
      backoffLimit: number;
      activeDeadlineSeconds: number;
      template: { spec: Record<string, unknown> };
    };
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.activeDeadlineSeconds, 600);
    const pod = spec.template.spec as {
      restartPolicy: string;
      volumes: unknown[];
      containers: Record<string, unknown>[];
    };
    assert.equal(pod.restartPolicy, 'Never');
    assert.deepEqual(pod.volumes, deployment.spec.template.spec.volumes);
    const [c] = pod.containers;
    assert.equal(c?.['image'], 'berth:dev');
    assert.equal(c?.['readinessProbe'], undefined);
    assert.equal(c?.['terminationMessagePolicy'], 'FallbackToLogsOnError');
    assert.deepEqual((c?.['command'] as string[]).slice(3), [
      'garbage-collect',
      '--delete-untagged',
      '--dry-run',
      '/etc/berth/config/config.yml',
    ]);
    assert.equal(j.metadata.ownerReferences?.[0]?.uid, 'u-1');
    // Never the registry's pod selector: the Service must not route to the collector.
    assert.equal(j.metadata.labels?.['app.kubernetes.io/component'], undefined);
  });

  it('a ReadWriteOnce claim: scheduled beside a registry pod', () => {
    const affinity = (job(true).spec as { template: { spec: { affinity?: { podAffinity?: unknown } } } })
      .template.spec.affinity;
    assert.ok(affinity?.podAffinity);
  });
});
