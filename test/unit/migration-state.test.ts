// The storage migration's state machine (operator/operations/storage-migration/state.ts): when a migration
// starts or waits, every phase's transitions, repeated online passes until the delta is small, the read-only
// budget (given up → back to read-write on the source → syncing again, then a clear failure), aborts in every
// phase (the registry ends on the source unless the switch completed), and an operator restarted anywhere.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { storageSchema, type StorageSpec } from '../../operator/api/index.ts';
import {
  next as gcNext,
  type Observed as GcObserved,
} from '../../operator/operations/garbage-collection/state.ts';
import {
  maintenanceReadOnly,
  next,
  storageInUse,
  MigratingReason,
  type JobObserved,
  type Limits,
  type MigrationOperation,
  type MigrationRecord,
  type Observed,
  type PassSummary,
  type Phase,
  type PodMode,
  type Step,
} from '../../operator/operations/storage-migration/state.ts';
import { sameLocation, storageIdentity } from '../../operator/render/storage-location.ts';

const t0 = new Date('2030-01-02T03:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const limits: Limits = {
  proofTimeoutMs: 60_000,
  switchTimeoutMs: 120_000,
  jobMarginMs: 30_000,
  pollMs: 1_000,
  syncTimeoutSeconds: 600,
  maxDeltaObjects: 10,
  maxDeltaBytes: 1_000_000,
  maxSyncPasses: 4,
  maxReadOnlyReturns: 2,
  maxJobRetries: 2,
  resyncAfterMs: 600_000,
};

const fs: StorageSpec = storageSchema.parse({ filesystem: {} });
const s3: StorageSpec = storageSchema.parse({
  s3: {
    bucket: 'images',
    endpoint: 'http://minio:9000',
    forcePathStyle: true,
    credentialsSecretRef: { name: 'minio' },
  },
});
const gcs: StorageSpec = storageSchema.parse({ gcs: { bucket: 'elsewhere' } });

const pods = (readOnly: boolean | undefined, n = 2): PodMode[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `reg-registry-${String(i)}`,
    ...(readOnly === undefined ? { error: 'connect ECONNREFUSED' } : { readOnly }),
  }));

/** A registry serving from the filesystem whose spec now names the S3 bucket. */
function observed(over: Partial<Observed> = {}): Observed {
  return {
    now: t0,
    generation: 2,
    deleting: false,
    storage: s3,
    served: fs,
    spec: { readOnly: false, readOnlyBudgetSeconds: 300, deleteSourceAfterMigration: false },
    windowOpen: true,
    fleet: [],
    fleetOnTarget: false,
    fleetOnSource: true,
    ...over,
  };
}

const types = (s: Step) => s.actions.map((a) => a.type);
const ok = (summary: PassSummary): JobObserved => ({ state: 'Succeeded', summary });
const small: PassSummary = { objectsCopied: 3, bytesCopied: 300, durationMs: 20_000 };
const big: PassSummary = { objectsCopied: 5000, bytesCopied: 5e9, durationMs: 200_000 };
const verified: PassSummary = {
  objectsCopied: 2,
  bytesCopied: 20,
  objectsDeleted: 1,
  objectsVanished: 0,
  sourceObjects: 900,
  sourceBytes: 9e6,
  durationMs: 30_000,
  verified: { objects: 900, bytes: 9e6 },
};

function op(step: Step): MigrationOperation {
  assert.ok(step.operation, 'an operation is under way');
  return step.operation;
}

function started(over: Partial<Observed> = {}): MigrationOperation {
  return op(next(undefined, observed(over), limits));
}

/** Syncing with its pass Job seen. */
const syncingSeen = () => op(next(started(), observed({ now: at(5), job: { state: 'Running' } }), limits));

/** Syncing right after a pass that leaves little: into EnteringReadOnly. */
function entering(): MigrationOperation {
  const s = next(syncingSeen(), observed({ now: at(60), job: ok(small) }), limits);
  assert.equal(s.operation?.phase, 'EnteringReadOnly');
  return op(s);
}

function finalSync(): MigrationOperation {
  const s = next(entering(), observed({ now: at(65), fleet: pods(true) }), limits);
  assert.equal(s.operation?.phase, 'FinalSync');
  return { ...op(s), job: 'Created' };
}

function switching(): MigrationOperation {
  const s = next(finalSync(), observed({ now: at(100), fleet: pods(true), job: ok(verified) }), limits);
  assert.equal(s.operation?.phase, 'Switching');
  return op(s);
}

function leavingOnTarget(): MigrationOperation {
  const s = next(switching(), observed({ now: at(130), fleet: pods(true), fleetOnTarget: true }), limits);
  assert.equal(s.operation?.phase, 'LeavingReadOnly');
  return op(s);
}

function switchingBack(): MigrationOperation {
  const s = next(
    switching(),
    observed({ now: at(100 + 121), fleet: pods(true), fleetOnSource: false }),
    limits,
  );
  assert.equal(s.operation?.phase, 'SwitchingBack');
  return op(s);
}

/** LeavingReadOnly after a given-up window (no outcome: resumes syncing). */
function leavingToResync(): MigrationOperation {
  const s = next(finalSync(), observed({ now: at(60 + 301), job: { state: 'Running' } }), limits);
  assert.equal(s.operation?.phase, 'LeavingReadOnly');
  assert.equal(s.operation.outcome, undefined);
  return op(s);
}

describe('storage migration: starting', () => {
  it('a registry seen for the first time serves what its spec names (status.storage recorded)', () => {
    const s = next(undefined, observed({ served: undefined }), limits);
    assert.equal(s.operation, undefined);
    assert.deepEqual(s.storage, s3);
    assert.equal(s.migrating.reason, MigratingReason.Idle);
  });

  it('a change of tuning only (redirect, credentials Secret, chunk size) is no migration', () => {
    const tuned = storageSchema.parse({
      s3: { ...s3.s3, credentialsSecretRef: { name: 'rotated' }, chunkSize: 16 * 1024 * 1024 },
      redirect: false,
    });
    const s = next(undefined, observed({ served: s3, storage: tuned }), limits);
    assert.equal(s.operation, undefined);
    assert.deepEqual(s.storage, tuned, 'the new tuning is served at once');
    const root = storageSchema.parse({ s3: { ...s3.s3, rootDirectory: '/berth/' } });
    const moved = storageSchema.parse({ s3: { ...s3.s3, rootDirectory: 'berth' } });
    assert.ok(sameLocation(root, moved), 'slashes around a root directory do not matter');
    assert.ok(!sameLocation(root, s3), 'a root directory is a location');
  });

  it('a new location starts Syncing: the first online pass, an Event, the source still served read-write', () => {
    const s = next(undefined, observed(), limits);
    const o = op(s);
    assert.equal(o.phase, 'Syncing');
    assert.equal(o.source.hash, storageIdentity(fs).hash);
    assert.equal(o.target.hash, storageIdentity(s3).hash);
    assert.equal(o.target.description, 's3 bucket images at http://minio:9000');
    assert.deepEqual(types(s), ['event', 'createJob']);
    assert.deepEqual(s.actions[1], {
      type: 'createJob',
      jobName: `${o.id}-s1`,
      pass: 'sync',
      deleteExtra: false,
      timeoutSeconds: 600,
    });
    assert.equal(o.job, 'Pending');
    assert.equal(s.migrating.status, true);
    assert.equal(s.migrating.reason, 'Syncing');
    assert.equal(s.readOnly?.status, false);
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs), 'status.storage is still the source');
    assert.equal(maintenanceReadOnly(o), false);
  });

  it('waits while a garbage collection runs, and garbage collection waits while a migration runs', () => {
    const s = next(undefined, observed({ otherOperation: 'GarbageCollection' }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.migrating.reason, MigratingReason.Waiting);
    assert.match(s.migrating.message, /GarbageCollection/);
    assert.equal(s.readOnly, undefined, 'the ReadOnly condition is the running operation’s');
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs), 'the source is served meanwhile');
    const gcObserved: GcObserved = {
      now: t0,
      generation: 2,
      deleting: false,
      spec: { deleteUntagged: false, dryRun: false, suspend: false, timeoutSeconds: 600, readOnly: false },
      request: 'now',
      scheduleDue: false,
      windowOpen: true,
      otherOperation: started().type,
      fleet: [],
    };
    const gc = gcNext(undefined, gcObserved);
    assert.equal(gc.operation, undefined);
    assert.equal(gc.collecting.reason, 'Waiting');
    assert.equal(gc.readOnly, undefined, 'nor does the waiting garbage collection write ReadOnly');
  });

  it('does not start while the target cannot be used, and says why; starts once it can', () => {
    const problem = 'its credentials Secret minio does not exist';
    const s = next(undefined, observed({ targetProblem: problem }), limits);
    assert.equal(s.operation, undefined);
    assert.deepEqual(s.actions, []);
    assert.equal(s.migrating.reason, MigratingReason.TargetUnavailable);
    assert.match(
      s.migrating.message,
      /s3 bucket images at http:\/\/minio:9000, which cannot be used: its credentials Secret minio does not exist; the registry serves from filesystem/,
    );
    assert.equal(s.requeueAfterMs, 60_000, 'looked at again without a hot loop');
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs), 'the source is served meanwhile');
    assert.equal(next(undefined, observed(), limits).operation?.phase, 'Syncing');
  });

  it('a failed migration is not retried by itself; a spec edit, the annotation or another target retries', () => {
    const last: MigrationRecord = {
      id: 'mig-1',
      request: 'a',
      startTime: t0.toISOString(),
      completionTime: t0.toISOString(),
      result: 'Failed',
      from: storageIdentity(fs),
      to: storageIdentity(s3),
      objectsCopied: 0,
      bytesCopied: 0,
      readOnlySeconds: 0,
      passes: 0,
      generation: 2,
      message: 'sync pass failed: InvalidAccessKeyId (MIGRATE_FAILED)',
    };
    const held = next(undefined, observed({ last, request: 'a' }), limits);
    assert.equal(held.operation, undefined);
    assert.equal(held.migrating.reason, MigratingReason.Failed);
    assert.match(held.migrating.message, /InvalidAccessKeyId.*serves from filesystem/);
    assert.ok(held.storage !== undefined && sameLocation(held.storage, fs));
    assert.equal(next(undefined, observed({ last, generation: 3 }), limits).operation?.phase, 'Syncing');
    const retried = next(undefined, observed({ last, request: 'b' }), limits);
    assert.equal(retried.operation?.request, 'b');
    assert.equal(next(undefined, observed({ last, storage: gcs }), limits).operation?.phase, 'Syncing');
  });

  it('does nothing for a registry being deleted or a spec that does not parse', () => {
    assert.equal(next(undefined, observed({ deleting: true }), limits).operation, undefined);
    const invalid = next(undefined, observed({ storage: undefined }), limits);
    assert.equal(invalid.operation, undefined);
    assert.equal(invalid.storage, undefined, 'status.storage left as it is');
  });
});

describe('storage migration: storage identities', () => {
  it('names each location without secrets, and compares endpoints as URLs', () => {
    const azure = storageSchema.parse({
      azure: {
        accountName: 'acct',
        container: 'images',
        endpoint: 'http://azurite:10000/acct',
        credentialsSecretRef: { name: 'k' },
      },
    });
    assert.equal(storageIdentity(azure).description, 'azure acct/images at http://azurite:10000/acct');
    assert.equal(storageIdentity(fs).description, 'filesystem (generated claim)');
    assert.equal(
      storageIdentity(storageSchema.parse({ filesystem: { claimName: 'old' } })).description,
      'filesystem (claim old)',
    );
    assert.equal(storageIdentity(gcs).description, 'gcs bucket elsewhere');
    const shouty = storageSchema.parse({ s3: { ...s3.s3, endpoint: 'http://MINIO:9000/' } });
    assert.ok(sameLocation(shouty, s3));
    assert.ok(!sameLocation(storageSchema.parse({ s3: { ...s3.s3, bucket: 'other' } }), s3));
    assert.doesNotMatch(JSON.stringify(storageIdentity(s3)), /minio"|AWS_/, 'no Secret reference either');
  });
});

describe('storage migration: Syncing', () => {
  it('creates the pass Job again until it is seen, then waits for it', () => {
    const o = started();
    const again = next(o, observed({ now: at(2) }), limits);
    assert.deepEqual(types(again), ['createJob']);
    assert.equal(again.actions[0]?.type === 'createJob' && again.actions[0].jobName, o.jobName);
    const seen = next(o, observed({ now: at(5), job: { state: 'Running' } }), limits);
    assert.equal(seen.operation?.job, 'Created');
    assert.deepEqual(seen.actions, []);
  });

  it('repeats passes until the last one copied less than the bound, then goes read-only', () => {
    let cur = started();
    const deltas = [big, { objectsCopied: 400, bytesCopied: 4e6, durationMs: 40_000 }, small];
    let s: Step | undefined;
    deltas.forEach((summary, i) => {
      s = next({ ...cur, job: 'Created' }, observed({ now: at(100 * (i + 1)), job: ok(summary) }), limits);
      cur = op(s);
    });
    assert.ok(s);
    assert.equal(cur.phase, 'EnteringReadOnly');
    assert.equal(cur.syncPasses, 3);
    assert.deepEqual(cur.lastDelta, { objects: 3, bytes: 300, durationMs: 20_000 });
    assert.deepEqual(cur.copied, { objects: 5403, bytes: 5e9 + 4e6 + 300 });
    assert.equal(cur.readOnlySince, at(300).toISOString().replace('.000', ''));
    assert.equal(maintenanceReadOnly(cur), true);
    assert.equal(s.readOnly?.status, false, 'not proven yet');
  });

  it('each further pass gets a Job of its own', () => {
    const s = next(syncingSeen(), observed({ now: at(100), job: ok(big) }), limits);
    assert.equal(s.operation?.phase, 'Syncing');
    assert.deepEqual(types(s), ['createJob']);
    assert.equal(s.operation.jobName, `${s.operation.id}-s2`);
    assert.equal(s.operation.job, 'Pending');
    assert.match(s.migrating.message, /5000 objects/);
  });

  it('goes read-only anyway after the pass cap, when a pass fits the budget', () => {
    let cur = started();
    for (let i = 1; i <= limits.maxSyncPasses; i++) {
      cur = op(next({ ...cur, job: 'Created' }, observed({ now: at(100 * i), job: ok(big) }), limits));
    }
    assert.equal(cur.phase, 'EnteringReadOnly');
    assert.equal(cur.syncPasses, limits.maxSyncPasses);
  });

  it('fails before any read-only phase when a pass alone outlasts the read-only budget', () => {
    const slow = { ...small, durationMs: 400_000 };
    const s = next(syncingSeen(), observed({ now: at(500), job: ok(slow) }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.result, 'Failed');
    assert.match(s.last.message, /spec\.storage\.migration\.readOnlyBudget/);
    assert.equal(s.last.readOnlySeconds, 0);
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs));
  });

  it('waits for a maintenance window once in step, and syncs again first if the wait made it stale', () => {
    const s = next(syncingSeen(), observed({ now: at(60), job: ok(small), windowOpen: false }), limits);
    const waiting = op(s);
    assert.equal(waiting.phase, 'Syncing');
    assert.equal(waiting.job, 'None');
    assert.match(s.migrating.message, /maintenance window/);
    assert.deepEqual(types(s), []);
    assert.equal(next(waiting, observed({ now: at(120) }), limits).operation?.phase, 'EnteringReadOnly');
    const stale = next(waiting, observed({ now: at(60 + 601) }), limits);
    assert.equal(stale.operation?.phase, 'Syncing');
    assert.deepEqual(types(stale), ['createJob']);
  });

  it('a bad bucket or credentials fails clearly, before anything goes read-only', () => {
    const job: JobObserved = {
      state: 'Failed',
      summary: { error: '--to: storage.s3.bucket: required', errorCode: 'MIGRATE_CONFIG' },
    };
    const s = next(syncingSeen(), observed({ now: at(20), job }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.result, 'Failed');
    assert.match(s.last.message, /storage\.s3\.bucket: required \(MIGRATE_CONFIG\)/);
    assert.equal(s.migrating.reason, MigratingReason.Failed);
    assert.equal(s.readOnly?.status, false);
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs));
    const event = s.actions.at(-1);
    assert.ok(event?.type === 'event' && event.warning);
    assert.equal(event.reason, 'StorageMigrationFailed');
  });

  it('an unreachable target is retried a few times, then fails on the source', () => {
    const unreachable: JobObserved = {
      state: 'Failed',
      summary: { objectsCopied: 7, error: 'connect ECONNREFUSED 10.0.0.9:9000', errorCode: 'MIGRATE_FAILED' },
    };
    let cur = syncingSeen();
    for (let i = 1; i <= limits.maxJobRetries; i++) {
      const s = next(cur, observed({ now: at(10 * i), job: unreachable }), limits);
      cur = { ...op(s), job: 'Created' };
      assert.equal(cur.phase, 'Syncing');
      assert.equal(cur.failures, i);
      assert.deepEqual(types(s), ['event', 'createJob']);
    }
    const s = next(cur, observed({ now: at(100), job: unreachable }), limits);
    assert.equal(s.operation, undefined);
    assert.equal(s.last?.result, 'Failed');
    assert.match(s.last.message, /ECONNREFUSED/);
  });

  it('a deleted pass Job (or its killed pod) runs the pass again under a new name', () => {
    const o = syncingSeen();
    const s = next(o, observed({ now: at(30) }), limits);
    assert.equal(s.operation?.phase, 'Syncing');
    assert.notEqual(s.operation.jobName, o.jobName);
    assert.match(s.migrating.message, /deleted/);
    const killed = next(
      o,
      observed({ now: at(30), job: { state: 'Failed', message: 'BackoffLimitExceeded' } }),
      limits,
    );
    assert.equal(killed.operation?.failures, 1);
  });

  it('a pass Job that outlives its deadline and margin is deleted and the pass run again', () => {
    const s = next(syncingSeen(), observed({ now: at(600 + 31), job: { state: 'Running' } }), limits);
    assert.deepEqual(types(s), ['deleteJob', 'event', 'createJob']);
  });

  it('a spec that stops parsing pauses the passes (a running one goes on)', () => {
    const o = started();
    const paused = next(o, observed({ now: at(2), storage: undefined }), limits);
    assert.deepEqual(types(paused), []);
    assert.match(paused.migrating.message, /paused/);
    const seen = next(
      syncingSeen(),
      observed({ now: at(20), storage: undefined, job: { state: 'Running' } }),
      limits,
    );
    assert.equal(seen.operation?.phase, 'Syncing');
    const after = next(syncingSeen(), observed({ now: at(30), storage: undefined, job: ok(big) }), limits);
    assert.equal(after.operation?.job, 'None');
    assert.deepEqual(types(after), []);
  });
});

describe('storage migration: EnteringReadOnly', () => {
  it('waits for every pod, then starts the final pass with deletes within what is left of the budget', () => {
    const o = entering();
    const partial = next(
      o,
      observed({ now: at(62), fleet: [...pods(true, 1), { name: 'b', readOnly: false }] }),
      limits,
    );
    assert.equal(partial.operation?.phase, 'EnteringReadOnly');
    assert.match(partial.migrating.message, /b \(read-write\)/);
    const s = next(o, observed({ now: at(70), fleet: pods(true) }), limits);
    assert.equal(s.operation?.phase, 'FinalSync');
    assert.deepEqual(s.actions, [
      { type: 'createJob', jobName: `${o.id}-f2`, pass: 'final', deleteExtra: true, timeoutSeconds: 290 },
    ]);
    assert.equal(s.readOnly?.status, true);
    assert.equal(s.readOnly.reason, 'Maintenance');
  });

  it('a pod that never confirms: the window is given up, back to read-write on the source, then syncing', () => {
    const s = next(
      entering(),
      observed({ now: at(60 + 61), fleet: [...pods(true, 1), ...pods(undefined, 1)] }),
      limits,
    );
    const o = op(s);
    assert.equal(o.phase, 'LeavingReadOnly');
    assert.equal(o.outcome, undefined);
    assert.equal(o.readOnlyReturns, 1);
    assert.match(o.message ?? '', /not confirmed in time/);
    assert.deepEqual(types(s), ['event']);
    assert.equal(maintenanceReadOnly(o), false);
  });
});

describe('storage migration: FinalSync', () => {
  it('a verified final pass switches the config to the target', () => {
    const o = switching();
    assert.equal(o.phase, 'Switching');
    assert.deepEqual(o.copied, { objects: 5, bytes: 320 });
    assert.equal(maintenanceReadOnly(o), true, 'still read-only while the pods roll');
    assert.ok(sameLocation(storageInUse(o, s3), s3));
  });

  it('over the read-only budget: the Job is stopped, read-write again on the source, then syncing again', () => {
    const f = finalSync();
    const s = next(f, observed({ now: at(60 + 301), job: { state: 'Running' } }), limits);
    const leaving = op(s);
    assert.deepEqual(types(s), ['deleteJob', 'event']);
    assert.equal(leaving.phase, 'LeavingReadOnly');
    assert.equal(leaving.readOnlyReturns, 1);
    assert.ok(sameLocation(storageInUse(leaving, s3), fs), 'the source is rendered');
    assert.equal(maintenanceReadOnly(leaving), false);
    const back = next(leaving, observed({ now: at(370), fleet: pods(false) }), limits);
    const resumed = op(back);
    assert.equal(resumed.phase, 'Syncing');
    assert.equal(resumed.roundPasses, 0);
    assert.equal(resumed.readOnlySeconds, 310);
    assert.equal(resumed.readOnlySince, undefined);
    assert.deepEqual(types(back), ['createJob']);
    assert.equal(back.readOnly?.status, false);
  });

  it('a Job killed by its activeDeadlineSeconds counts as over budget', () => {
    const s = next(
      finalSync(),
      observed({ now: at(80), job: { state: 'Failed', deadlineExceeded: true } }),
      limits,
    );
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.equal(s.operation.readOnlyReturns, 1);
  });

  it('after maxReadOnlyReturns windows given up the migration fails clearly, on the source', () => {
    const f = { ...finalSync(), readOnlyReturns: limits.maxReadOnlyReturns - 1 };
    const s = next(f, observed({ now: at(60 + 301), job: { state: 'Running' } }), limits);
    assert.equal(s.operation?.outcome?.result, 'Failed');
    assert.match(
      s.operation.outcome?.message ?? '',
      /gave up after 2 read-only windows: raise spec\.storage\.migration\.readOnlyBudget/,
    );
    const end = next(op(s), observed({ now: at(370), fleet: pods(false) }), limits);
    assert.equal(end.operation, undefined);
    assert.equal(end.last?.result, 'Failed');
    assert.ok(end.storage !== undefined && sameLocation(end.storage, fs));
  });

  it('a target that does not verify aborts to the source', () => {
    const job: JobObserved = {
      state: 'Failed',
      summary: { error: 'verification failed: 1 object(s) differ', errorCode: 'MIGRATE_VERIFY' },
    };
    const s = next(finalSync(), observed({ now: at(90), job }), limits);
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.equal(s.operation.outcome?.result, 'Failed');
    assert.match(s.operation.outcome?.message ?? '', /does not verify/);
    assert.ok(sameLocation(storageInUse(s.operation, s3), fs));
  });

  it('a summary that contradicts itself (objects vanished from a read-only source) does not verify', () => {
    const s = next(
      finalSync(),
      observed({ now: at(90), job: ok({ ...verified, objectsVanished: 2 }) }),
      limits,
    );
    assert.equal(s.operation?.outcome?.result, 'Failed');
    const fewer = next(
      finalSync(),
      observed({ now: at(90), job: ok({ ...verified, verified: { objects: 899 } }) }),
      limits,
    );
    assert.match(fewer.operation?.outcome?.message ?? '', /899 of 900/);
  });

  it('a killed or deleted final Job runs again within the budget, then the window is given up', () => {
    const f = finalSync();
    const killed = next(f, observed({ now: at(80), job: { state: 'Failed', message: 'Evicted' } }), limits);
    assert.equal(killed.operation?.phase, 'FinalSync');
    assert.equal(killed.operation.jobName, `${f.id}-f3`);
    assert.equal(killed.operation.failures, 1);
    const deleted = next({ ...op(killed), job: 'Created' }, observed({ now: at(90) }), limits);
    assert.equal(deleted.operation?.phase, 'FinalSync');
    const third = next({ ...op(deleted), job: 'Created' }, observed({ now: at(95) }), limits);
    assert.equal(third.operation?.phase, 'LeavingReadOnly');
    assert.equal(third.operation.readOnlyReturns, 1);
  });
});

describe('storage migration: Switching and LeavingReadOnly', () => {
  it('waits until every pod runs the target, then leaves read-only on the target', () => {
    const o = switching();
    const wait = next(o, observed({ now: at(110), fleet: pods(true) }), limits);
    assert.equal(wait.operation?.phase, 'Switching');
    const l = leavingOnTarget();
    assert.equal(l.outcome?.result, 'Succeeded');
    assert.equal(maintenanceReadOnly(l), false);
    assert.ok(sameLocation(storageInUse(l, s3), s3));
  });

  it('records the run once every pod is read-write, keeping the source', () => {
    const l = leavingOnTarget();
    const still = next(l, observed({ now: at(131), fleet: pods(true) }), limits);
    assert.equal(still.readOnly?.status, true);
    const s = next(l, observed({ now: at(140), fleet: pods(false) }), limits);
    assert.equal(s.operation, undefined);
    assert.deepEqual(s.storage, s3);
    const last = s.last;
    assert.ok(last);
    assert.deepEqual(
      { ...last, from: last.from.description, to: last.to.description },
      {
        id: l.id,
        startTime: '2030-01-02T03:00:00Z',
        completionTime: '2030-01-02T03:02:20Z',
        result: 'Succeeded',
        from: 'filesystem (generated claim)',
        to: 's3 bucket images at http://minio:9000',
        objectsCopied: 5,
        bytesCopied: 320,
        readOnlySeconds: 80,
        passes: 2,
        generation: 2,
        sourceData: 'Kept',
        message: 'the registry serves from s3 bucket images at http://minio:9000',
      },
    );
    assert.deepEqual(types(s), ['event']);
    assert.equal(s.migrating.reason, MigratingReason.Idle);
  });

  it('deletes the source only when deleteSourceAfterMigration says so', () => {
    const spec = { ...observed().spec, deleteSourceAfterMigration: true };
    const s = next(leavingOnTarget(), observed({ now: at(140), fleet: pods(false), spec }), limits);
    assert.deepEqual(types(s), ['event', 'deleteSource']);
    const action = s.actions[1];
    assert.ok(action?.type === 'deleteSource');
    assert.equal(action.source.hash, storageIdentity(fs).hash);
    assert.equal(s.last?.sourceData, 'DeleteRequested');
  });

  it('returns to read-only when spec.readOnly is set, and finishes even if a pod never confirms', () => {
    const spec = { ...observed().spec, readOnly: true };
    assert.equal(
      next(leavingOnTarget(), observed({ now: at(140), spec, fleet: pods(true) }), limits).operation,
      undefined,
    );
    const late = next(leavingOnTarget(), observed({ now: at(130 + 61), fleet: pods(undefined, 1) }), limits);
    assert.equal(late.operation, undefined);
    assert.match(late.last?.message ?? '', /not confirmed in time by reg-registry-0/);
  });

  it('pods that do not start on the target: the switch is undone, and read-write waits for the source pods', () => {
    const back = switchingBack();
    assert.equal(back.outcome?.result, 'Failed');
    assert.equal(maintenanceReadOnly(back), true, 'read-only while pods roll back');
    assert.ok(sameLocation(storageInUse(back, s3), fs));
    const wait = next(back, observed({ now: at(300), fleet: pods(true), fleetOnSource: false }), limits);
    assert.equal(wait.operation?.phase, 'SwitchingBack', 'a pod on the target must never turn read-write');
    const l = next(back, observed({ now: at(300), fleet: pods(true), fleetOnSource: true }), limits);
    assert.equal(l.operation?.phase, 'LeavingReadOnly');
    const end = next(op(l), observed({ now: at(310), fleet: pods(false) }), limits);
    assert.equal(end.last?.result, 'Failed');
    assert.ok(end.storage !== undefined && sameLocation(end.storage, fs));
  });
});

/** Pods follow what is rendered for the operation at once; Jobs succeed with the given summaries. */
function world(o: MigrationOperation, over: Partial<Observed> = {}): Partial<Observed> {
  const spec = over.storage ?? s3;
  const rendered = storageInUse(o, spec);
  const job: JobObserved | undefined =
    o.job === 'None' ? undefined : ok(o.phase === 'FinalSync' ? verified : small);
  return {
    // Pods report the mode their config says (read-only exactly while maintenanceReadOnly).
    fleet: pods(maintenanceReadOnly(o)),
    fleetOnTarget: sameLocation(rendered, o.target),
    fleetOnSource: sameLocation(rendered, o.source),
    ...(job !== undefined ? { job } : {}),
    ...over,
  };
}

/** Runs the machine from `o` to its end; every step's output is recomputed to show it is a pure function. */
function runToEnd(o: MigrationOperation | undefined, over: Partial<Observed> = {}): Step {
  let step: Step | undefined;
  let cur = o;
  for (let i = 0, s = 1000; i < 40 && cur !== undefined; i++, s += 10) {
    const obs = observed({ now: at(s), ...world(cur, over) });
    step = next(cur, obs, limits);
    assert.deepEqual(next(cur, obs, limits), step, 'same input, same output');
    cur = step.operation;
  }
  assert.ok(step);
  assert.equal(step.operation, undefined, 'the run ended');
  assert.equal(step.readOnly?.status, false, 'read-write at the end');
  return step;
}

/** One persisted operation per phase, as an operator killed there would find it. */
function everyPhase(): [Phase | string, MigrationOperation][] {
  return [
    ['Syncing (Job to create)', started()],
    ['Syncing (Job running)', syncingSeen()],
    ['EnteringReadOnly', entering()],
    ['FinalSync', finalSync()],
    ['Switching', switching()],
    ['SwitchingBack', switchingBack()],
    ['LeavingReadOnly (to syncing)', leavingToResync()],
    ['LeavingReadOnly (on the target)', leavingOnTarget()],
  ];
}

describe('storage migration: a given-up window and a spec that stops parsing', () => {
  it('back to read-write, then paused instead of syncing', () => {
    const s = next(
      leavingToResync(),
      observed({ now: at(370), storage: undefined, fleet: pods(false) }),
      limits,
    );
    assert.equal(s.operation?.phase, 'Syncing');
    assert.equal(s.operation.job, 'None');
    assert.deepEqual(types(s), []);
    assert.match(s.migrating.message, /paused/);
  });
});

describe('storage migration: aborts', () => {
  it('reverting spec.storage in any phase before the switch completed ends on the source, read-write', () => {
    for (const [phase, o] of everyPhase()) {
      const end = runToEnd(o, { storage: fs });
      assert.ok(end.storage !== undefined, phase);
      if (phase === 'LeavingReadOnly (on the target)') {
        // The switch completed: the target is served (and a revert is a new migration back).
        assert.equal(end.last?.result, 'Succeeded', phase);
        assert.ok(sameLocation(end.storage, s3), phase);
        const again = next(undefined, observed({ storage: fs, served: end.storage, last: end.last }), limits);
        assert.equal(again.operation?.phase, 'Syncing', 'migrates back');
        assert.equal(again.operation.target.hash, storageIdentity(fs).hash);
      } else {
        assert.notEqual(end.last?.result, 'Succeeded', phase);
        assert.ok(sameLocation(end.storage, fs), `${phase}: ends on the source`);
        if (phase !== 'SwitchingBack') assert.equal(end.last?.result, 'Aborted', phase);
        assert.match(end.last?.message ?? '', /reverted to the source|did not start/, phase);
      }
    }
  });

  it('a revert during Syncing stops the running pass at once (nothing was read-only)', () => {
    const s = next(syncingSeen(), observed({ now: at(20), storage: fs, job: { state: 'Running' } }), limits);
    assert.equal(s.operation, undefined);
    assert.deepEqual(types(s), ['deleteJob', 'event']);
    assert.equal(s.last?.result, 'Aborted');
    assert.equal(s.last.readOnlySeconds, 0);
    assert.equal(s.migrating.reason, MigratingReason.Idle);
    assert.match(s.migrating.message, /aborted: spec.storage was reverted/);
    // And nothing starts again: the spec names the source.
    const after = next(undefined, observed({ storage: fs, served: s.storage, last: s.last }), limits);
    assert.equal(after.operation, undefined);
    assert.equal(after.migrating.reason, MigratingReason.Idle);
  });

  it('a revert during the final pass stops it and unwinds read-only on the source', () => {
    const s = next(finalSync(), observed({ now: at(70), storage: fs, job: { state: 'Running' } }), limits);
    assert.deepEqual(types(s), ['deleteJob']);
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.equal(s.operation.outcome?.result, 'Aborted');
  });

  it('a revert during Switching goes back to the source pods before read-write', () => {
    const s = next(switching(), observed({ now: at(110), storage: fs, fleetOnSource: false }), limits);
    assert.equal(s.operation?.phase, 'SwitchingBack');
    assert.equal(s.operation.outcome?.result, 'Aborted');
    assert.ok(s.storage !== undefined && sameLocation(s.storage, fs));
  });

  it('spec.storage moved to a third location: aborted to the source, then a new migration there', () => {
    const end = runToEnd(entering(), { storage: gcs });
    assert.equal(end.last?.result, 'Aborted');
    assert.match(end.last.message, /changed to gcs bucket elsewhere/);
    assert.ok(end.storage !== undefined && sameLocation(end.storage, fs));
    const again = next(undefined, observed({ storage: gcs, served: end.storage, last: end.last }), limits);
    assert.equal(again.operation?.target.description, 'gcs bucket elsewhere');
  });

  it('a spec that stops parsing during a read-only phase unwinds to the source', () => {
    const s = next(
      finalSync(),
      observed({ now: at(70), storage: undefined, job: { state: 'Running' } }),
      limits,
    );
    assert.equal(s.operation?.phase, 'LeavingReadOnly');
    assert.equal(s.operation.outcome?.result, 'Aborted');
    assert.match(s.operation.outcome?.message ?? '', /no longer parses/);
  });
});

describe('storage migration: operator restarted in each phase', () => {
  it('the same persisted state and world give the same step', () => {
    for (const [phase, o] of everyPhase()) {
      const obs = observed({ now: at(500), ...world(o) });
      assert.deepEqual(next(structuredClone(o), obs, limits), next(o, structuredClone(obs), limits), phase);
    }
  });

  it('resumes every phase to its end: on the target, unless the switch was being undone', () => {
    for (const [phase, o] of everyPhase()) {
      const end = runToEnd(o);
      assert.ok(end.storage !== undefined && end.last !== undefined, phase);
      if (phase === 'SwitchingBack') {
        assert.equal(end.last.result, 'Failed', phase);
        assert.ok(sameLocation(end.storage, fs), phase);
      } else {
        assert.equal(end.last.result, 'Succeeded', phase);
        assert.ok(sameLocation(end.storage, s3), phase);
      }
    }
  });

  it('the CR being deleted: the operation is left as is, nothing acts', () => {
    const o = finalSync();
    const s = next(o, observed({ deleting: true, job: { state: 'Running' } }), limits);
    assert.deepEqual(s.operation, o);
    assert.deepEqual(s.actions, []);
    assert.equal(s.requeueAfterMs, undefined);
  });
});

describe('storage migration: what the registry reconciler renders', () => {
  const cases: [string, () => MigrationOperation, 'source' | 'target', boolean][] = [
    ['Syncing', started, 'source', false],
    ['EnteringReadOnly', entering, 'source', true],
    ['FinalSync', finalSync, 'source', true],
    ['Switching', switching, 'target', true],
    ['SwitchingBack', switchingBack, 'source', true],
    ['LeavingReadOnly (to syncing)', leavingToResync, 'source', false],
    ['LeavingReadOnly (on the target)', leavingOnTarget, 'target', false],
  ];
  for (const [phase, make, where, readOnly] of cases) {
    it(`${phase}: the ${where}${readOnly ? ', read-only' : ''}`, () => {
      const o = make();
      const rendered = storageInUse(o, s3);
      assert.ok(sameLocation(rendered, where === 'source' ? fs : s3));
      assert.equal(maintenanceReadOnly(o), readOnly);
    });
  }

  it('LeavingReadOnly after an abort renders the source', () => {
    const o: MigrationOperation = { ...leavingOnTarget(), outcome: { result: 'Aborted', message: 'x' } };
    assert.ok(sameLocation(storageInUse(o, s3), fs));
  });

  it('registry-wide keys follow the spec at once; the location stays where the data is', () => {
    const spec = storageSchema.parse({ ...s3, delete: true, redirect: false });
    const rendered = storageInUse(started(), spec);
    assert.deepEqual(rendered.filesystem, fs.filesystem);
    assert.equal(rendered.s3, undefined);
    assert.equal(rendered.delete, true);
    assert.equal(rendered.redirect, false);
  });

  it('with no migration: status.storage until spec.storage names the same location', () => {
    assert.ok(sameLocation(storageInUse(undefined, s3, fs), fs), 'a failed migration keeps the source');
    assert.deepEqual(storageInUse(undefined, s3, s3), s3);
    assert.deepEqual(storageInUse(undefined, s3), s3, 'nothing recorded: the spec');
    assert.ok(sameLocation(storageInUse({ type: 'GarbageCollection', phase: 'Collecting' }, s3, fs), fs));
    assert.equal(maintenanceReadOnly({ type: 'GarbageCollection', phase: 'Collecting' }), false);
    assert.equal(maintenanceReadOnly(undefined), false);
  });
});
