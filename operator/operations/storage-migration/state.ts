// The storage migration as a pure state machine, in the shape of the garbage collection's: `next(operation,
// observed, limits)` gives the operation to persist in status.operation, status.lastMigration and status.storage,
// and the actions to take once that is persisted. An operator restarted anywhere finds the phase it was in and
// resumes or unwinds it from the persisted state and the world as observed.
//
//          ┌──────── pass copied more than the bound: another pass ────────┐
//          ▼                                                               │
//   (none) ──spec.storage names a new location──▶ Syncing ─────────────────┘
//                                                   │ delta small (or pass cap) and a window open
//                                                   ▼
//                                            EnteringReadOnly ──every pod read-only──▶ FinalSync (--delete, verify)
//                                                                                          │ verified
//                                                                                          ▼
//   (none) ◀──read-write proven── LeavingReadOnly ◀──every pod on the target config── Switching
//                 ▲  ▲ (on the source: back to Syncing, or done)                           │ revert / too slow
//                 │  └──────────── every pod on the source config ──── SwitchingBack ◀──────┘
//                 └── read-only budget spent, proof timeout, abort (revert, verify failed) before Switching
//
// The fleet is read-only from EnteringReadOnly through SwitchingBack, so until LeavingReadOnly starts on the
// target nothing is written to the target and going back to the source loses nothing. A running registry
// applies a reloaded config's read-only flag but keeps the storage driver it started with: so read-write is
// only ever rendered once every pod runs the storage that is rendered (fleetOnTarget / fleetOnSource).
import { ReadOnlyReason, type StorageSpec } from '../../api/index.ts';
import { kubeTime, timedId } from '../../runtime/time.ts';
import { unconfirmed, type PodMode } from '../garbage-collection/state.ts';
import { storageInUse } from './in-use.ts';
import {
  MigratingReason,
  MigrationEventReason,
  MigrationResult,
  type MigrationResultValue,
} from './reasons.ts';
import {
  identityOf,
  sameLocation,
  snapshot,
  storageIdentity,
  withLocation,
} from '../../render/storage-location.ts';
import {
  defaultLimits,
  migrateAnnotation,
  operationType,
  type Action,
  type JobObserved,
  type Limits,
  type MigrationOperation,
  type MigrationRecord,
  type Observed,
  type Outcome,
  type PassSummary,
  type Phase,
  type Step,
} from './types.ts';

export * from './types.ts';
export * from './reasons.ts';
export { maintenanceReadOnly, storageInUse } from './in-use.ts';

/** Codes of `berth-registry migrate` failures that another run would not fix (registry/migrate/errors.ts). */
const fatalCodes = new Set(['MIGRATE_CONFIG', 'MIGRATE_USAGE']);
const verifyCode = 'MIGRATE_VERIFY';

// ---------------------------------------------------------------------------------------------------------
// Helpers

const since = (iso: string | undefined, now: Date) =>
  iso === undefined ? 0 : now.getTime() - Date.parse(iso);
const seconds = (ms: number) => Math.max(0, Math.round(ms / 1000));
const plural = (n: number, what: string) => `${String(n)} ${what}${n === 1 ? '' : 's'}`;

/** A run id usable in Job names: mig-<UTC yyyymmddhhmmss>. */
export function runId(now: Date): string {
  return timedId('mig', now);
}

/** The Job name of the n-th Job of a run (base 36 keeps `<registry>-<name>` within 63 characters). */
export const jobNameOf = (id: string, pass: 'sync' | 'final', n: number) =>
  `${id}-${pass === 'sync' ? 's' : 'f'}${n.toString(36)}`;

function modeProven(fleet: readonly PodMode[], readOnly: boolean): boolean {
  return fleet.length > 0 && unconfirmed(fleet, readOnly).length === 0;
}

/** What spec.storage asks for, relative to a running migration. */
function intent(op: MigrationOperation, obs: Observed): 'target' | 'source' | 'other' | 'invalid' {
  if (obs.storage === undefined) return 'invalid';
  const { hash } = storageIdentity(obs.storage);
  if (hash === op.target.hash) return 'target';
  return hash === op.source.hash ? 'source' : 'other';
}

function abortMessage(op: MigrationOperation, obs: Observed, why: 'source' | 'other' | 'invalid'): string {
  if (why === 'source') return `spec.storage was reverted to the source (${op.source.description})`;
  if (why === 'invalid') return 'the spec no longer parses';
  const to = obs.storage !== undefined ? storageIdentity(obs.storage).description : 'another location';
  return `spec.storage changed to ${to}; a new migration starts from the source`;
}

function readWriteCondition(obs: Observed): NonNullable<Step['readOnly']> {
  return obs.spec.readOnly
    ? { status: true, reason: ReadOnlyReason.Requested, message: 'spec.readOnly is set' }
    : { status: false, reason: ReadOnlyReason.ReadWrite, message: 'the registry accepts writes' };
}

function phaseTo(
  op: MigrationOperation,
  phase: Phase,
  now: Date,
  extra: Partial<MigrationOperation> = {},
): MigrationOperation {
  return { ...op, ...extra, phase, phaseStartTime: kubeTime(now) };
}

/** Numbers from a summary (anything else is ignored). */
function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function failureText(job: JobObserved | undefined): string {
  if (job === undefined) return 'the Job was deleted';
  const code = job.summary?.errorCode !== undefined ? ` (${job.summary.errorCode})` : '';
  return `${job.summary?.error ?? job.message ?? 'the Job failed'}${code}`;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

function running(
  obs: Observed,
  op: MigrationOperation,
  limits: Limits,
  actions: Action[],
  requeueAfterMs?: number,
): Step {
  let readOnly: NonNullable<Step['readOnly']>;
  if (op.phase === 'Syncing') readOnly = readWriteCondition(obs);
  else if (op.phase === 'EnteringReadOnly' || op.phase === 'LeavingReadOnly') {
    // Entering: not proven yet; Leaving: still read-only until every pod confirms.
    readOnly = {
      status: op.phase === 'LeavingReadOnly',
      reason: ReadOnlyReason.Switching,
      message: op.message ?? op.phase,
    };
  } else {
    readOnly = { status: true, reason: ReadOnlyReason.Maintenance, message: `storage migration ${op.id}` };
  }
  return {
    operation: op,
    last: obs.last,
    storage: obs.storage !== undefined ? storageInUse(op, obs.storage) : undefined,
    actions,
    requeueAfterMs: requeueAfterMs ?? limits.pollMs,
    migrating: { status: true, reason: MigratingReason[op.phase], message: op.message ?? op.phase },
    readOnly,
  };
}

function lastText(last: MigrationRecord | undefined): string {
  return last === undefined ? '' : `; last migration ${last.id}: ${last.result}: ${last.message}`;
}

function idle(
  obs: Observed,
  migrating: Step['migrating'],
  storage: StorageSpec | undefined,
  last = obs.last,
): Step {
  return {
    operation: undefined,
    last,
    storage,
    actions: [],
    migrating,
    readOnly: obs.otherOperation !== undefined ? undefined : readWriteCondition(obs),
    ...(migrating.reason === MigratingReason.Waiting || migrating.reason === MigratingReason.TargetUnavailable
      ? { requeueAfterMs: 60_000 }
      : {}),
  };
}

/** With no migration under way: stay, wait, or start one. */
function decideStart(obs: Observed, limits: Limits): Step {
  const spec = obs.storage;
  if (spec === undefined || obs.deleting) {
    return idle(
      obs,
      { status: false, reason: MigratingReason.Idle, message: 'nothing to migrate' },
      undefined,
    );
  }
  // A registry seen for the first time serves what its spec names.
  const served = obs.served ?? spec;
  const from = storageIdentity(served);
  if (sameLocation(spec, from)) {
    const message = `serving from ${from.description}${lastText(obs.last)}`;
    return idle(obs, { status: false, reason: MigratingReason.Idle, message }, spec);
  }
  const to = storageIdentity(spec);
  const inUse = withLocation(spec, served);
  const last = obs.last;
  const newRequest = obs.request !== undefined && obs.request !== '' && obs.request !== last?.request;
  if (
    last !== undefined &&
    last.result !== MigrationResult.Succeeded &&
    last.to.hash === to.hash &&
    last.from.hash === from.hash &&
    last.generation === obs.generation &&
    !newRequest
  ) {
    const message =
      `migration ${last.id} to ${to.description} ${last.result === 'Aborted' ? 'was aborted' : 'failed'}: ${last.message}; ` +
      `the registry serves from ${from.description}. Edit the spec, set the ${migrateAnnotation} annotation to retry, ` +
      'or revert spec.storage';
    return idle(obs, { status: false, reason: MigratingReason.Failed, message }, inUse);
  }
  if (obs.targetProblem !== undefined) {
    const message = `spec.storage names ${to.description}, which cannot be used: ${obs.targetProblem}; the registry serves from ${from.description}`;
    return idle(obs, { status: false, reason: MigratingReason.TargetUnavailable, message }, inUse);
  }
  if (obs.otherOperation !== undefined) {
    const message = `spec.storage names ${to.description}; waiting for the ${obs.otherOperation} operation to finish`;
    return idle(obs, { status: false, reason: MigratingReason.Waiting, message }, inUse);
  }
  return start(obs, served, spec, newRequest ? obs.request : last?.request, limits);
}

function start(
  obs: Observed,
  served: StorageSpec,
  spec: StorageSpec,
  request: string | undefined,
  limits: Limits,
): Step {
  const now = kubeTime(obs.now);
  const id = runId(obs.now);
  const source = snapshot(served);
  const target = snapshot(spec);
  const op: MigrationOperation = {
    type: operationType,
    id,
    phase: 'Syncing',
    startTime: now,
    phaseStartTime: now,
    ...(request !== undefined ? { request } : {}),
    source,
    target,
    syncPasses: 0,
    roundPasses: 0,
    copied: { objects: 0, bytes: 0 },
    readOnlyReturns: 0,
    failures: 0,
    jobCount: 0,
    job: 'None',
    readOnlySeconds: 0,
    message: `copying ${source.description} to ${target.description} while the registry serves`,
  };
  const [withJob, create] = newJob(op, obs, 'sync', limits);
  return running(obs, withJob, limits, [
    {
      type: 'event',
      warning: false,
      reason: MigrationEventReason.Started,
      message: `${id}: ${source.description} -> ${target.description}; the registry keeps serving from the source`,
    },
    create,
  ]);
}

/** The operation with a new Job to create, and the action creating it. */
function newJob(
  op: MigrationOperation,
  obs: Observed,
  pass: 'sync' | 'final',
  limits: Limits,
): [MigrationOperation, Action] {
  const n = op.jobCount + 1;
  const jobName = jobNameOf(op.id, pass, n);
  const timeoutSeconds =
    pass === 'sync' ? limits.syncTimeoutSeconds : Math.max(1, Math.ceil(budgetLeftMs(op, obs) / 1000));
  return [
    { ...op, jobCount: n, jobName, job: 'Pending', jobStartTime: kubeTime(obs.now) },
    { type: 'createJob', jobName, pass, deleteExtra: pass === 'final', timeoutSeconds },
  ];
}

/** The same Job again (not created yet, or the operator restarted before it was seen). */
function createAgain(op: MigrationOperation, pass: 'sync' | 'final', obs: Observed, limits: Limits): Action {
  return {
    type: 'createJob',
    jobName: op.jobName ?? jobNameOf(op.id, pass, op.jobCount),
    pass,
    deleteExtra: pass === 'final',
    timeoutSeconds:
      pass === 'sync' ? limits.syncTimeoutSeconds : Math.max(1, Math.ceil(budgetLeftMs(op, obs) / 1000)),
  };
}

function budgetLeftMs(op: MigrationOperation, obs: Observed): number {
  return obs.spec.readOnlyBudgetSeconds * 1000 - since(op.readOnlySince, obs.now);
}

/** The run is over: record it, serve from where it ended. */
function done(obs: Observed, op: MigrationOperation, outcome: Outcome, actions: Action[]): Step {
  const ok = outcome.result === MigrationResult.Succeeded;
  const deleteSource = ok && obs.spec.deleteSourceAfterMigration;
  const record: MigrationRecord = {
    id: op.id,
    ...(op.request !== undefined ? { request: op.request } : {}),
    startTime: op.startTime,
    completionTime: kubeTime(obs.now),
    result: outcome.result,
    from: identityOf(op.source),
    to: identityOf(op.target),
    objectsCopied: op.copied.objects,
    bytesCopied: op.copied.bytes,
    readOnlySeconds: op.readOnlySeconds,
    passes: op.syncPasses + (ok ? 1 : 0),
    generation: obs.generation,
    ...(ok ? { sourceData: deleteSource ? ('DeleteRequested' as const) : ('Kept' as const) } : {}),
    message: outcome.message,
  };
  const where = ok ? op.target : op.source;
  const figures = `${plural(op.copied.objects, 'object')} (${String(op.copied.bytes)} bytes) copied in ${plural(record.passes, 'pass')}, read-only ${String(op.readOnlySeconds)}s`;
  const spec = obs.storage;
  return {
    operation: undefined,
    last: record,
    storage:
      spec === undefined
        ? where.storage
        : sameLocation(spec, where)
          ? spec
          : withLocation(spec, where.storage),
    actions: [
      ...actions,
      {
        type: 'event',
        warning: !ok,
        reason: `StorageMigration${outcome.result}`,
        message: `${op.id}: ${outcome.message}; ${figures}; serving from ${where.description}`,
      },
      ...(deleteSource ? [{ type: 'deleteSource' as const, source: op.source }] : []),
    ],
    migrating: {
      status: false,
      // Aborted: the spec names the source again (or a new target, which starts next): nothing failed.
      reason: outcome.result === MigrationResult.Failed ? MigratingReason.Failed : MigratingReason.Idle,
      message: `${ok ? 'migrated' : outcome.result === 'Aborted' ? 'aborted' : 'failed'}: ${outcome.message}; serving from ${where.description}`,
    },
    readOnly: readWriteCondition(obs),
  };
}

/** Back to read-write on the source: the run ends with `outcome`, or (none) resumes Syncing afterwards. */
function leave(
  obs: Observed,
  op: MigrationOperation,
  limits: Limits,
  actions: Action[],
  outcome?: Outcome,
): Step {
  const message = outcome
    ? `${outcome.message}; switching the registry back to read-write on ${op.source.description}`
    : `${op.message ?? ''}; switching the registry back to read-write, then syncing again`;
  const leaving = phaseTo(op, 'LeavingReadOnly', obs.now, {
    ...(outcome !== undefined ? { outcome } : {}),
    job: 'None',
    message,
  });
  return running(obs, leaving, limits, actions);
}

/** A read-only window given up (budget spent, no proof): back to Syncing, or fail after too many. */
function giveUpWindow(
  obs: Observed,
  op: MigrationOperation,
  why: string,
  limits: Limits,
  actions: Action[],
): Step {
  const returns = op.readOnlyReturns + 1;
  const counted: MigrationOperation = { ...op, readOnlyReturns: returns, message: why };
  const event: Action = {
    type: 'event',
    warning: true,
    reason: MigrationEventReason.ReadOnlyGivenUp,
    message: `${op.id}: ${why} (${String(returns)}/${String(limits.maxReadOnlyReturns)})`,
  };
  if (returns >= limits.maxReadOnlyReturns) {
    const message = `${why}; gave up after ${plural(returns, 'read-only window')}: raise spec.storage.migration.readOnlyBudget or migrate when the registry is quieter`;
    return leave(obs, counted, limits, [...actions, event], { result: MigrationResult.Failed, message });
  }
  return leave(obs, counted, limits, [...actions, event]);
}

/** Whether the last pass leaves little enough for the final one; or why the run cannot fit the budget. */
function readiness(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
): 'ready' | 'more' | { fail: string } {
  const d = op.lastDelta;
  if (d === undefined) return 'more';
  const small = d.objects <= limits.maxDeltaObjects && d.bytes <= limits.maxDeltaBytes;
  const budgetMs = obs.spec.readOnlyBudgetSeconds * 1000;
  // A pass lists and verifies everything however little it copies: one that alone outlasts the budget says
  // the final pass will too.
  const fits = d.durationMs === undefined || d.durationMs <= budgetMs;
  const tooSlow = `a pass takes ${String(seconds(d.durationMs ?? 0))}s, longer than the read-only budget (${String(obs.spec.readOnlyBudgetSeconds)}s): raise spec.storage.migration.readOnlyBudget`;
  if (small) return fits ? 'ready' : { fail: tooSlow };
  if (op.roundPasses >= limits.maxSyncPasses) return fits ? 'ready' : { fail: tooSlow };
  return 'more';
}

function syncing(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const why = intent(op, obs);
  const job = obs.job;
  if (why === 'source' || why === 'other') {
    const actions: Action[] =
      job?.state === 'Running' && op.jobName ? [{ type: 'deleteJob', jobName: op.jobName }] : [];
    return done(obs, op, { result: MigrationResult.Aborted, message: abortMessage(op, obs, why) }, actions);
  }
  const slow = Math.max(limits.pollMs, 10_000);
  if (op.job === 'None') {
    // Waiting: for a maintenance window, or for the spec to parse again.
    if (why === 'invalid') {
      return running(obs, { ...op, message: 'paused: the spec does not parse' }, limits, [], 60_000);
    }
    const stale = since(op.lastPassTime, obs.now) > limits.resyncAfterMs;
    const ready = readiness(op, obs, limits);
    if (ready === 'ready' && !stale && obs.windowOpen) return enterReadOnly(op, obs, limits);
    if (typeof ready === 'object')
      return done(obs, op, { result: MigrationResult.Failed, message: ready.fail }, []);
    if (ready === 'more' || stale) {
      const [withJob, create] = newJob(op, obs, 'sync', limits);
      const more = ready === 'more' ? 'another pass' : 'the last pass is stale; syncing again';
      return running(
        obs,
        { ...withJob, message: `${op.message ?? 'synced'}; ${more}` },
        limits,
        [create],
        slow,
      );
    }
    const waiting = {
      ...op,
      message: 'the target is nearly in step; waiting for a maintenance window to go read-only',
    };
    return running(obs, waiting, limits, [], 60_000);
  }
  if (job === undefined) {
    if (op.job === 'Pending') {
      if (why === 'invalid')
        return running(obs, { ...op, message: 'paused: the spec does not parse' }, limits, [], 60_000);
      return running(obs, op, limits, [createAgain(op, 'sync', obs, limits)], slow);
    }
    return passFailed(op, obs, limits, undefined);
  }
  const seen: MigrationOperation = op.job === 'Created' ? op : { ...op, job: 'Created' };
  if (job.state === 'Running') {
    if (since(op.jobStartTime, obs.now) >= limits.syncTimeoutSeconds * 1000 + limits.jobMarginMs) {
      return passFailed(
        seen,
        obs,
        limits,
        { state: 'Failed', deadlineExceeded: true, message: 'the pass outlived its deadline' },
        true,
      );
    }
    return running(
      obs,
      { ...seen, message: `sync pass ${String(op.syncPasses + 1)} is running` },
      limits,
      [],
      slow,
    );
  }
  if (job.state === 'Failed') return passFailed(seen, obs, limits, job);
  return passDone(seen, obs, limits, job.summary);
}

/** An online pass ended: record its delta, then another pass, the read-only part, or a wait. */
function passDone(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
  summary: PassSummary | undefined,
): Step {
  const objects = count(summary?.objectsCopied) ?? 0;
  const bytes = count(summary?.bytesCopied) ?? 0;
  const durationMs = count(summary?.durationMs);
  const passes = op.syncPasses + 1;
  const after: MigrationOperation = {
    ...op,
    syncPasses: passes,
    roundPasses: op.roundPasses + 1,
    lastDelta: { objects, bytes, ...(durationMs !== undefined ? { durationMs } : {}) },
    lastPassTime: kubeTime(obs.now),
    copied: { objects: op.copied.objects + objects, bytes: op.copied.bytes + bytes },
    failures: 0,
    job: 'None',
    message: `sync pass ${String(passes)} copied ${plural(objects, 'object')} (${String(bytes)} bytes)`,
  };
  // Decided at once: the next reconcile would see the Job again, but the op says it is done with it.
  return syncing(after, { ...obs, job: undefined }, limits);
}

/** A pass failed (or its Job vanished): retry, or fail before anything went read-only. */
function passFailed(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
  job: JobObserved | undefined,
  stop = false,
): Step {
  const text = failureText(job);
  const actions: Action[] = stop && op.jobName ? [{ type: 'deleteJob', jobName: op.jobName }] : [];
  const code = job?.summary?.errorCode;
  const failures = op.failures + 1;
  if ((code !== undefined && fatalCodes.has(code)) || failures > limits.maxJobRetries) {
    const message = `sync pass failed: ${text}`;
    return done(obs, op, { result: MigrationResult.Failed, message }, actions);
  }
  const [withJob, create] = newJob({ ...op, failures }, obs, 'sync', limits);
  const message = `sync pass failed: ${text}; retrying (${String(failures)}/${String(limits.maxJobRetries)})`;
  return running(obs, { ...withJob, message }, limits, [
    ...actions,
    {
      type: 'event',
      warning: true,
      reason: MigrationEventReason.PassFailed,
      message: `${op.id}: ${message}`,
    },
    create,
  ]);
}

function enterReadOnly(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const entering = phaseTo(op, 'EnteringReadOnly', obs.now, {
    readOnlySince: kubeTime(obs.now),
    job: 'None',
    message: `the last pass copied ${plural(op.lastDelta?.objects ?? 0, 'object')}; switching the registry to read-only for the final sync`,
  });
  return running(obs, entering, limits, []);
}

function enteringReadOnly(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const why = intent(op, obs);
  if (why !== 'target') {
    return leave(obs, op, limits, [], {
      result: MigrationResult.Aborted,
      message: abortMessage(op, obs, why),
    });
  }
  if (modeProven(obs.fleet, true)) {
    if (budgetLeftMs(op, obs) <= 0) {
      const spent = `confirming read-only took the whole read-only budget (${String(obs.spec.readOnlyBudgetSeconds)}s)`;
      return giveUpWindow(obs, op, spent, limits, []);
    }
    const final = phaseTo(op, 'FinalSync', obs.now, {
      failures: 0,
      message: `every registry pod (${String(obs.fleet.length)}) is read-only; final sync with deletes`,
    });
    const [withJob, create] = newJob(final, obs, 'final', limits);
    return running(obs, withJob, limits, [create]);
  }
  const who =
    obs.fleet.length === 0
      ? 'no running registry pod'
      : `not confirmed: ${unconfirmed(obs.fleet, true).join(', ')}`;
  if (since(op.phaseStartTime, obs.now) >= limits.proofTimeoutMs) {
    return giveUpWindow(obs, op, `read-only mode was not confirmed in time (${who})`, limits, []);
  }
  return running(obs, { ...op, message: `waiting for read-only mode (${who})` }, limits, []);
}

function finalSync(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const why = intent(op, obs);
  const job = obs.job;
  const stop: Action[] =
    job?.state === 'Running' && op.jobName ? [{ type: 'deleteJob', jobName: op.jobName }] : [];
  if (why !== 'target') {
    return leave(obs, op, limits, stop, {
      result: MigrationResult.Aborted,
      message: abortMessage(op, obs, why),
    });
  }
  const left = budgetLeftMs(op, obs);
  const overBudget = `the final sync did not finish within the read-only budget (${String(obs.spec.readOnlyBudgetSeconds)}s)`;
  if (job === undefined) {
    if (op.job === 'Pending') {
      if (left <= 0) return giveUpWindow(obs, op, overBudget, limits, []);
      return running(obs, op, limits, [createAgain(op, 'final', obs, limits)]);
    }
    return finalRetry(op, obs, limits, 'the final sync Job was deleted', []);
  }
  const seen: MigrationOperation = op.job === 'Created' ? op : { ...op, job: 'Created' };
  if (job.state === 'Running') {
    if (left <= 0) return giveUpWindow(obs, seen, overBudget, limits, stop);
    return running(
      obs,
      { ...seen, message: 'the final sync is running' },
      limits,
      [],
      Math.min(limits.pollMs, left),
    );
  }
  if (job.state === 'Failed') {
    const code = job.summary?.errorCode;
    if (job.deadlineExceeded === true) return giveUpWindow(obs, seen, overBudget, limits, []);
    if (code === verifyCode) {
      const message = `the target does not verify: ${failureText(job)}`;
      return leave(obs, seen, limits, [], { result: MigrationResult.Failed, message });
    }
    if (code !== undefined && fatalCodes.has(code)) {
      return leave(obs, seen, limits, [], {
        result: MigrationResult.Failed,
        message: `final sync failed: ${failureText(job)}`,
      });
    }
    return finalRetry(seen, obs, limits, `final sync failed: ${failureText(job)}`, []);
  }
  return finalDone(seen, obs, limits, job.summary);
}

/** A final pass that was killed or hit a storage error: again within the budget, else give the window up. */
function finalRetry(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
  why: string,
  actions: Action[],
): Step {
  const failures = op.failures + 1;
  if (failures > limits.maxJobRetries || budgetLeftMs(op, obs) <= 0)
    return giveUpWindow(obs, op, why, limits, actions);
  const [withJob, create] = newJob(
    { ...op, failures, message: `${why}; running it again` },
    obs,
    'final',
    limits,
  );
  return running(obs, withJob, limits, [...actions, create]);
}

/**
 * The final pass verified (exit code 0). While the fleet is read-only nothing may vanish from the source and
 * the target must hold exactly the source's listing: a summary saying otherwise aborts.
 */
function finalDone(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
  summary: PassSummary | undefined,
): Step {
  const objects = count(summary?.objectsCopied) ?? 0;
  const bytes = count(summary?.bytesCopied) ?? 0;
  const sourceObjects = count(summary?.sourceObjects);
  const verified = count(summary?.verified?.objects);
  const vanished = count(summary?.objectsVanished) ?? 0;
  const problems = [
    ...(vanished > 0 ? [`${plural(vanished, 'object')} vanished from the read-only source`] : []),
    ...(sourceObjects !== undefined && verified !== undefined && verified !== sourceObjects
      ? [`${String(verified)} of ${String(sourceObjects)} source objects verified on the target`]
      : []),
  ];
  const copied = { objects: op.copied.objects + objects, bytes: op.copied.bytes + bytes };
  const after: MigrationOperation = { ...op, copied, lastDelta: { objects, bytes }, job: 'None' };
  if (problems.length > 0) {
    const message = `the target does not verify: ${problems.join('; ')}`;
    return leave(obs, after, limits, [], { result: MigrationResult.Failed, message });
  }
  const switching = phaseTo(after, 'Switching', obs.now, {
    message: `the target verified (${plural(verified ?? sourceObjects ?? 0, 'object')}); the registry config now names ${op.target.description}, waiting for every pod to run it`,
  });
  return running(obs, switching, limits, []);
}

function switching(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const why = intent(op, obs);
  if (why === 'source' || why === 'other')
    return switchBack(op, obs, limits, MigrationResult.Aborted, abortMessage(op, obs, why));
  if (obs.fleetOnTarget) {
    const outcome: Outcome = {
      result: MigrationResult.Succeeded,
      message: `the registry serves from ${op.target.description}`,
    };
    const leaving = phaseTo(op, 'LeavingReadOnly', obs.now, {
      outcome,
      message: `every registry pod runs ${op.target.description}; switching back to read-write`,
    });
    return running(obs, leaving, limits, [
      {
        type: 'event',
        warning: false,
        reason: MigrationEventReason.Switched,
        message: `${op.id}: ${leaving.message ?? ''}`,
      },
    ]);
  }
  if (since(op.phaseStartTime, obs.now) >= limits.switchTimeoutMs) {
    const message = `the registry pods did not start on ${op.target.description} within ${String(seconds(limits.switchTimeoutMs))}s`;
    return switchBack(op, obs, limits, MigrationResult.Failed, message);
  }
  return running(
    obs,
    { ...op, message: `waiting for every registry pod to run ${op.target.description}` },
    limits,
    [],
  );
}

function switchBack(
  op: MigrationOperation,
  obs: Observed,
  limits: Limits,
  result: MigrationResultValue,
  message: string,
): Step {
  const back = phaseTo(op, 'SwitchingBack', obs.now, {
    outcome: { result, message },
    message: `${message}; the registry config names ${op.source.description} again, waiting for every pod to run it`,
  });
  return running(obs, back, limits, []);
}

function switchingBack(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const outcome = op.outcome ?? { result: MigrationResult.Aborted, message: 'interrupted' };
  // Read-write only once no pod runs the target: a pod still on it would take writes there.
  if (obs.fleetOnSource) return leave(obs, op, limits, [], outcome);
  return running(
    obs,
    {
      ...op,
      message: `${outcome.message}; waiting for every registry pod to run ${op.source.description} again`,
    },
    limits,
    [],
  );
}

function leavingReadOnly(op: MigrationOperation, obs: Observed, limits: Limits): Step {
  const actions: Action[] =
    obs.job?.state === 'Running' && op.jobName ? [{ type: 'deleteJob', jobName: op.jobName }] : [];
  const want = obs.spec.readOnly;
  const proven = obs.fleet.length === 0 || modeProven(obs.fleet, want);
  const late = since(op.phaseStartTime, obs.now) >= limits.proofTimeoutMs;
  if (!proven && !late) {
    const waiting = {
      ...op,
      message: `waiting for read-write mode (not confirmed: ${unconfirmed(obs.fleet, want).join(', ')})`,
    };
    return running(obs, waiting, limits, actions);
  }
  const note = proven
    ? ''
    : `; read-write was not confirmed in time by ${unconfirmed(obs.fleet, want).join(', ')} (its config says read-write)`;
  const closed: MigrationOperation = {
    ...op,
    readOnlySeconds: op.readOnlySeconds + seconds(since(op.readOnlySince, obs.now)),
  };
  delete closed.readOnlySince;
  if (op.outcome !== undefined) {
    return done(obs, closed, { ...op.outcome, message: `${op.outcome.message}${note}` }, actions);
  }
  // A given-up window: resume syncing, unless the spec moved away meanwhile.
  const why = intent(op, obs);
  if (why === 'source' || why === 'other') {
    return done(
      obs,
      closed,
      { result: MigrationResult.Aborted, message: abortMessage(op, obs, why) },
      actions,
    );
  }
  const resumed = phaseTo(closed, 'Syncing', obs.now, { roundPasses: 0, failures: 0, job: 'None' });
  if (why === 'invalid') {
    return running(
      obs,
      { ...resumed, message: `back to read-write${note}; paused: the spec does not parse` },
      limits,
      actions,
      60_000,
    );
  }
  const [withJob, create] = newJob(resumed, obs, 'sync', limits);
  return running(obs, { ...withJob, message: `back to read-write${note}; syncing again` }, limits, [
    ...actions,
    create,
  ]);
}

/** The next state of the storage migration given what was observed. */
export function next(
  current: MigrationOperation | undefined,
  obs: Observed,
  limits: Limits = defaultLimits,
): Step {
  if (current === undefined) return decideStart(obs, limits);
  // The CR is going away: its pods and Jobs go with it (ownerReferences); nothing to unwind.
  if (obs.deleting) return { ...running(obs, current, limits, []), requeueAfterMs: undefined };
  switch (current.phase) {
    case 'Syncing':
      return syncing(current, obs, limits);
    case 'EnteringReadOnly':
      return enteringReadOnly(current, obs, limits);
    case 'FinalSync':
      return finalSync(current, obs, limits);
    case 'Switching':
      return switching(current, obs, limits);
    case 'SwitchingBack':
      return switchingBack(current, obs, limits);
    case 'LeavingReadOnly':
      return leavingReadOnly(current, obs, limits);
  }
}
