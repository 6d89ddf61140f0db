// The garbage-collection operation as a pure state machine: `next(operation, observed)` gives the operation to
// persist in status.operation and the actions to take after it is persisted. The runner (controller.ts)
// writes the state first and acts second, so an operator restarted at any point finds the phase it was in and
// resumes it, or unwinds it; the registry is never left read-only.
//
//   (none) ──due──▶ EnteringReadOnly ──every pod read-only──▶ Collecting ──Job ended──▶ LeavingReadOnly ──▶ (none)
//                          │ no proof in time / spec changed        │ Job failed, timed out, deleted, spec changed
//                          └────────────────────────────────────────┴──────────────▶ LeavingReadOnly
//   dryRun: (none) ──due──▶ Collecting ──Job ended──▶ (none)  (the fleet stays read-write)
//
// The registry reconciler renders the registry's config read-only exactly while the operation is in
// EnteringReadOnly or Collecting (maintenanceReadOnly below); the registry reloads it without a restart.
import {
  GarbageCollectionResult as Result,
  GarbageCollectingReason,
  ReadOnlyReason,
} from '../../api/index.ts';
import type { ReasonOf } from '../../api/index.ts';
import { kubeTime, timedId } from '../../runtime/time.ts';

export const operationType = 'GarbageCollection';

export type Phase = 'EnteringReadOnly' | 'Collecting' | 'LeavingReadOnly';
export type Trigger = 'Schedule' | 'OnDemand';
export type RunResult = ReasonOf<typeof Result>;

/** What a run found (the collector's JSON summary). */
export interface Figures {
  manifestsDeleted?: number;
  blobsDeleted?: number;
  bytesFreed?: number;
}

/** How a run ended, known before the fleet is back read-write. */
export interface Outcome extends Figures {
  result: RunResult;
  message: string;
}

/** status.operation while a garbage collection runs. */
export interface GcOperation {
  type: typeof operationType;
  id: string;
  phase: Phase;
  startTime: string;
  phaseStartTime: string;
  trigger: Trigger;
  /** The annotation value acknowledged (the one this run was started for, or the previous one). */
  request?: string;
  /** metadata.generation when the run started: a spec change aborts the run. */
  generation: number;
  dryRun: boolean;
  deleteUntagged: boolean;
  timeoutSeconds: number;
  jobName: string;
  /** Pending: the Job is to be created (again, if need be); Created: it was seen, so its absence is a deletion. */
  job: 'Pending' | 'Created';
  /** When the fleet was switched to read-only. */
  readOnlySince?: string;
  outcome?: Outcome;
  message?: string;
}

/** status.lastGarbageCollection. */
export interface GcRecord extends Figures {
  id: string;
  trigger: Trigger;
  request?: string;
  startTime: string;
  completionTime: string;
  result: RunResult;
  dryRun: boolean;
  readOnlySeconds?: number;
  message: string;
}

/** One registry pod's answer to GET /berth/v1/maintenance (readOnly undefined: it did not answer). */
export interface PodMode {
  name: string;
  readOnly?: boolean;
  error?: string;
}

export interface JobObserved {
  state: 'Running' | 'Succeeded' | 'Failed';
  /** Failed because activeDeadlineSeconds passed. */
  deadlineExceeded?: boolean;
  /** The collector's summary (from the termination message), when it wrote one. */
  summary?: Figures & { error?: string };
  message?: string;
}

export interface Observed {
  now: Date;
  generation: number;
  deleting: boolean;
  spec: {
    deleteUntagged: boolean;
    dryRun: boolean;
    suspend: boolean;
    timeoutSeconds: number;
    /** spec.readOnly: what the fleet returns to. */
    readOnly: boolean;
  };
  /** The berth.dev/garbage-collect annotation. */
  request?: string;
  last?: GcRecord;
  /** A cron time of spec.garbageCollection.schedule has come (see schedule.ts). */
  scheduleDue: boolean;
  /** No maintenance windows, or one is open now. */
  windowOpen: boolean;
  /** Another operation's type when one runs. */
  otherOperation?: string;
  /** Every running registry pod; only probed while the operation switches modes. */
  fleet: PodMode[];
  /** The collector Job (undefined: absent). */
  job?: JobObserved;
}

export interface Limits {
  /** Longest wait for every pod to confirm a mode switch (the kubelet refreshes ConfigMap volumes lazily). */
  proofTimeoutMs: number;
  /** Margin over the Job's activeDeadlineSeconds before the run is given up without the Job's word. */
  jobMarginMs: number;
  /** How often to look again while waiting. */
  pollMs: number;
  /**
   * Leaving read-only: after this long the runner clears the read-only flag in the stored config itself, in
   * case the registry reconciler is blocked (it does so at once when the spec is invalid).
   */
  releaseAfterMs: number;
}

export const defaultLimits: Limits = {
  proofTimeoutMs: 240_000,
  jobMarginMs: 300_000,
  pollMs: 3_000,
  releaseAfterMs: 30_000,
};

export type Action =
  | { type: 'createJob'; jobName: string; dryRun: boolean; deleteUntagged: boolean; timeoutSeconds: number }
  | { type: 'deleteJob'; jobName: string }
  | { type: 'event'; warning: boolean; reason: string; message: string };

export interface Step {
  /** status.operation to persist (undefined: none). */
  operation: GcOperation | undefined;
  /** status.lastGarbageCollection to persist. */
  last: GcRecord | undefined;
  /** Acted on after the state is persisted. */
  actions: Action[];
  /** Look again after this long (undefined: on the next event). */
  requeueAfterMs?: number;
  /** GarbageCollecting condition (False reasons say why nothing runs). */
  collecting: { status: boolean; reason: ReasonOf<typeof GarbageCollectingReason>; message: string };
  /** ReadOnly condition; undefined while another operation runs (it owns the condition then). */
  readOnly: { status: boolean; reason: ReasonOf<typeof ReadOnlyReason>; message: string } | undefined;
}

/** True while the registry's config must say read-only because of this operation. */
export function maintenanceReadOnly(operation: unknown): boolean {
  if (typeof operation !== 'object' || operation === null) return false;
  const op = operation as Partial<GcOperation>;
  if (op.type !== operationType || op.dryRun === true) return false;
  return op.phase === 'EnteringReadOnly' || op.phase === 'Collecting';
}

export const since = (iso: string, now: Date) => now.getTime() - Date.parse(iso);

/** A run id usable in a Job name: gc-<UTC yyyymmddhhmmss>. */
export function runId(now: Date): string {
  return timedId('gc', now);
}

/** The pods that do not report the wanted mode, for messages ("a (no answer: ...), b (read-write)"). */
export function unconfirmed(fleet: readonly PodMode[], readOnly: boolean): string[] {
  return fleet
    .filter((p) => p.readOnly !== readOnly)
    .map((p) =>
      p.readOnly === undefined
        ? `${p.name} (no answer: ${p.error ?? 'unreachable'})`
        : `${p.name} (${p.readOnly ? 'read-only' : 'read-write'})`,
    );
}

function modeProven(fleet: readonly PodMode[], readOnly: boolean): boolean {
  return fleet.length > 0 && unconfirmed(fleet, readOnly).length === 0;
}

function readWriteCondition(obs: Observed): Step['readOnly'] {
  return obs.spec.readOnly
    ? { status: true, reason: ReadOnlyReason.Requested, message: 'spec.readOnly is set' }
    : { status: false, reason: ReadOnlyReason.ReadWrite, message: 'the registry accepts writes' };
}

const idleCollecting = (reason: Step['collecting']['reason'], message: string): Step['collecting'] => ({
  status: false,
  reason,
  message,
});

function idle(obs: Observed, collecting: Step['collecting'], requeueAfterMs?: number): Step {
  return {
    operation: undefined,
    last: obs.last,
    actions: [],
    collecting,
    readOnly: obs.otherOperation !== undefined ? undefined : readWriteCondition(obs),
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/** Idle: the last run's outcome (e.g. which pod never confirmed read-only) stays readable until the next. */
function idleMessage(last: GcRecord | undefined): string {
  return last === undefined
    ? 'no garbage collection is running'
    : `no garbage collection is running; last run ${last.id}: ${last.result}: ${last.message}`;
}

/** Whether a run should start now, and which; or why it waits. */
function decideStart(obs: Observed): { trigger: Trigger; request?: string } | { wait: Step['collecting'] } {
  const acknowledged = obs.last?.request;
  const newRequest = obs.request !== undefined && obs.request !== '' && obs.request !== acknowledged;
  if (!newRequest && !obs.scheduleDue) {
    return { wait: idleCollecting(GarbageCollectingReason.Idle, idleMessage(obs.last)) };
  }
  if (obs.spec.suspend) {
    return {
      wait: idleCollecting(
        GarbageCollectingReason.Suspended,
        'spec.garbageCollection.suspend: no run starts',
      ),
    };
  }
  if (obs.otherOperation !== undefined) {
    return {
      wait: idleCollecting(
        GarbageCollectingReason.Waiting,
        `a run is due; waiting for the ${obs.otherOperation} operation to finish`,
      ),
    };
  }
  if (!obs.spec.dryRun && !obs.windowOpen) {
    return {
      wait: idleCollecting(GarbageCollectingReason.Waiting, 'a run is due; waiting for a maintenance window'),
    };
  }
  const request = newRequest ? obs.request : acknowledged;
  return { trigger: newRequest ? 'OnDemand' : 'Schedule', ...(request !== undefined ? { request } : {}) };
}

function start(obs: Observed, trigger: Trigger, request: string | undefined, limits: Limits): Step {
  const now = kubeTime(obs.now);
  const id = runId(obs.now);
  const op: GcOperation = {
    type: operationType,
    id,
    phase: obs.spec.dryRun ? 'Collecting' : 'EnteringReadOnly',
    startTime: now,
    phaseStartTime: now,
    trigger,
    ...(request !== undefined ? { request } : {}),
    generation: obs.generation,
    dryRun: obs.spec.dryRun,
    deleteUntagged: obs.spec.deleteUntagged,
    timeoutSeconds: obs.spec.timeoutSeconds,
    jobName: id,
    job: 'Pending',
    ...(obs.spec.dryRun ? {} : { readOnlySince: now }),
    message: obs.spec.dryRun ? 'dry run: starting the collector' : 'switching the registry to read-only',
  };
  const how = obs.spec.dryRun ? 'dry run' : 'the registry goes read-only';
  return running(obs, op, limits, [
    {
      type: 'event',
      warning: false,
      reason: 'GarbageCollectionStarted',
      message: `${id} (${trigger}): ${how}`,
    },
  ]);
}

/** The step for an operation that goes on (phase conditions follow the phase). */
function running(
  obs: Observed,
  op: GcOperation,
  limits: Limits,
  actions: Action[],
  requeueAfterMs?: number,
): Step {
  const collecting: Step['collecting'] = {
    status: true,
    reason: GarbageCollectingReason[op.phase],
    message: op.message ?? op.phase,
  };
  let readOnly: Step['readOnly'];
  if (op.dryRun) readOnly = readWriteCondition(obs);
  else if (op.phase === 'Collecting') {
    readOnly = { status: true, reason: ReadOnlyReason.Maintenance, message: `garbage collection ${op.id}` };
  } else {
    // Entering: not proven yet; Leaving: still read-only until every pod confirms read-write.
    readOnly = {
      status: op.phase === 'LeavingReadOnly',
      reason: ReadOnlyReason.Switching,
      message: op.message ?? op.phase,
    };
  }
  return {
    operation: op,
    last: obs.last,
    actions,
    collecting,
    readOnly,
    requeueAfterMs: requeueAfterMs ?? limits.pollMs,
  };
}

function phaseTo(op: GcOperation, phase: Phase, now: Date, extra: Partial<GcOperation>): GcOperation {
  return { ...op, ...extra, phase, phaseStartTime: kubeTime(now) };
}

/** Ends the collecting part of the run: leave read-only (or finish at once in a dry run). */
function finishCollecting(
  obs: Observed,
  op: GcOperation,
  outcome: Outcome,
  limits: Limits,
  actions: Action[],
): Step {
  if (op.dryRun) return done(obs, op, outcome, undefined, actions);
  const leaving = phaseTo(op, 'LeavingReadOnly', obs.now, {
    outcome,
    message: `${outcome.message}; switching the registry back to read-write`,
  });
  return running(obs, leaving, limits, actions);
}

function done(
  obs: Observed,
  op: GcOperation,
  outcome: Outcome,
  readOnlySeconds: number | undefined,
  actions: Action[],
): Step {
  const record: GcRecord = {
    id: op.id,
    trigger: op.trigger,
    ...(op.request !== undefined ? { request: op.request } : {}),
    startTime: op.startTime,
    completionTime: kubeTime(obs.now),
    result: outcome.result,
    dryRun: op.dryRun,
    ...(outcome.manifestsDeleted !== undefined ? { manifestsDeleted: outcome.manifestsDeleted } : {}),
    ...(outcome.blobsDeleted !== undefined ? { blobsDeleted: outcome.blobsDeleted } : {}),
    ...(outcome.bytesFreed !== undefined ? { bytesFreed: outcome.bytesFreed } : {}),
    ...(readOnlySeconds !== undefined ? { readOnlySeconds } : {}),
    message: outcome.message,
  };
  const ok = outcome.result === Result.Succeeded;
  const figures = `${String(outcome.manifestsDeleted ?? 0)} manifests, ${String(outcome.blobsDeleted ?? 0)} blobs, ${String(outcome.bytesFreed ?? 0)} bytes`;
  return {
    operation: undefined,
    last: record,
    actions: [
      ...actions,
      {
        type: 'event',
        warning: !ok,
        reason: `GarbageCollection${outcome.result}`,
        message: `${op.id}: ${outcome.message}${ok ? ` (${figures}${op.dryRun ? ' would be freed' : ''})` : ''}${readOnlySeconds !== undefined ? `; read-only ${String(readOnlySeconds)}s` : ''}`,
      },
    ],
    collecting: idleCollecting(GarbageCollectingReason.Idle, idleMessage(record)),
    readOnly: readWriteCondition(obs),
  };
}

function jobOutcome(job: JobObserved, op: GcOperation): Outcome {
  const figures: Figures = {};
  for (const k of ['manifestsDeleted', 'blobsDeleted', 'bytesFreed'] as const) {
    const v = job.summary?.[k];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) figures[k] = v;
  }
  if (job.state === 'Succeeded') {
    return {
      result: Result.Succeeded,
      message: op.dryRun ? 'dry run completed' : 'collection completed',
      ...figures,
    };
  }
  if (job.deadlineExceeded === true) {
    return {
      result: Result.TimedOut,
      message: `the collector exceeded the timeout (${String(op.timeoutSeconds)}s)`,
      ...figures,
    };
  }
  const why = job.summary?.error ?? job.message ?? 'the collector Job failed';
  return { result: Result.Failed, message: `collector failed: ${why}`, ...figures };
}

/** The next state of the garbage-collection operation given what was observed. */
export function next(current: GcOperation | undefined, obs: Observed, limits: Limits = defaultLimits): Step {
  if (current === undefined) {
    if (obs.deleting)
      return idle(obs, idleCollecting(GarbageCollectingReason.Idle, 'the registry is being deleted'));
    const decision = decideStart(obs);
    if ('wait' in decision) return idle(obs, decision.wait);
    return start(obs, decision.trigger, decision.request, limits);
  }
  const op = current;
  // The CR is going away: its pods and the Job go with it (ownerReferences); nothing to unwind.
  if (obs.deleting) return { ...running(obs, op, limits, []), requeueAfterMs: undefined };
  const specChanged = obs.generation !== op.generation;
  const unwind = (o: GcOperation, result: RunResult, message: string, actions: Action[] = []) =>
    finishCollecting(obs, o, { result, message }, limits, actions);
  const inPhase = since(op.phaseStartTime, obs.now);

  switch (op.phase) {
    case 'EnteringReadOnly': {
      if (specChanged) {
        return unwind(op, Result.Aborted, 'the spec changed before collecting');
      }
      if (modeProven(obs.fleet, true)) {
        const collecting = phaseTo(op, 'Collecting', obs.now, {
          job: 'Pending',
          message: `every registry pod (${String(obs.fleet.length)}) is read-only; collecting`,
        });
        return running(obs, collecting, limits, [createJob(collecting)]);
      }
      const waiting = unconfirmed(obs.fleet, true);
      const who = obs.fleet.length === 0 ? 'no running registry pod' : `not confirmed: ${waiting.join(', ')}`;
      if (inPhase >= limits.proofTimeoutMs) {
        return unwind(
          op,
          Result.Failed,
          `read-only mode was not confirmed in time (${who}); nothing collected`,
        );
      }
      return running(obs, { ...op, message: `waiting for read-only mode (${who})` }, limits, []);
    }

    case 'Collecting': {
      const job = obs.job;
      if (job === undefined) {
        if (op.job === 'Created') {
          return unwind(op, Result.Failed, 'the collector Job was deleted');
        }
        if (specChanged) {
          return unwind(op, Result.Aborted, 'the spec changed before collecting');
        }
        return running(obs, op, limits, [createJob(op)]);
      }
      const seen: GcOperation = op.job === 'Created' ? op : { ...op, job: 'Created' };
      if (job.state !== 'Running') {
        return finishCollecting(obs, seen, jobOutcome(job, seen), limits, []);
      }
      if (specChanged) {
        return unwind(seen, Result.Aborted, 'the spec changed while collecting; the collector was stopped', [
          { type: 'deleteJob', jobName: op.jobName },
        ]);
      }
      if (inPhase >= op.timeoutSeconds * 1000 + limits.jobMarginMs) {
        return unwind(
          seen,
          Result.TimedOut,
          `the collector did not end within the timeout (${String(op.timeoutSeconds)}s)`,
          [{ type: 'deleteJob', jobName: op.jobName }],
        );
      }
      return running(
        obs,
        { ...seen, message: 'the collector Job is running' },
        limits,
        [],
        Math.max(limits.pollMs, 10_000),
      );
    }

    case 'LeavingReadOnly': {
      const outcome: Outcome = op.outcome ?? { result: Result.Failed, message: 'interrupted' };
      // A Job still running (aborted run, operator restarted before deleting it) must not outlive the window.
      const actions: Action[] =
        obs.job?.state === 'Running' ? [{ type: 'deleteJob', jobName: op.jobName }] : [];
      const readOnlySeconds =
        op.readOnlySince !== undefined
          ? Math.max(0, Math.round(since(op.readOnlySince, obs.now) / 1000))
          : undefined;
      const want = obs.spec.readOnly;
      if (obs.fleet.length === 0 || modeProven(obs.fleet, want))
        return done(obs, op, outcome, readOnlySeconds, actions);
      if (inPhase >= limits.proofTimeoutMs) {
        const late = unconfirmed(obs.fleet, want).join(', ');
        return done(
          obs,
          op,
          {
            ...outcome,
            message: `${outcome.message}; read-write was not confirmed in time by ${late} (its config says read-write)`,
          },
          readOnlySeconds,
          actions,
        );
      }
      return running(
        obs,
        {
          ...op,
          message: `waiting for read-write mode (not confirmed: ${unconfirmed(obs.fleet, want).join(', ')})`,
        },
        limits,
        actions,
      );
    }
  }
}

function createJob(op: GcOperation): Action {
  return {
    type: 'createJob',
    jobName: op.jobName,
    dryRun: op.dryRun,
    deleteUntagged: op.deleteUntagged,
    timeoutSeconds: op.timeoutSeconds,
  };
}
