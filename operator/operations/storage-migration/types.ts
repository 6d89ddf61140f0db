// The storage migration's persisted state (status.operation, status.lastMigration), what the runner observes
// for it, and what the state machine (state.ts) answers.
import type { ReadOnlyReason, ReasonOf, StorageSpec } from '../../api/index.ts';
import type { PodMode } from '../garbage-collection/state.ts';
import type { MigratingReason, MigrationResultValue } from './reasons.ts';
import type { StorageIdentity, StorageSnapshot } from '../../render/storage-location.ts';

export type { PodMode } from '../garbage-collection/state.ts';

/** Any new value retries a migration that failed (acknowledged in status.lastMigration.request). */
export const migrateAnnotation = 'berth.dev/migrate';

export const operationType = 'StorageMigration';

export type Phase =
  'Syncing' | 'EnteringReadOnly' | 'FinalSync' | 'Switching' | 'SwitchingBack' | 'LeavingReadOnly';

export interface Delta {
  objects: number;
  bytes: number;
}

export interface Outcome {
  result: MigrationResultValue;
  message: string;
}

/** status.operation while a storage migration runs. */
export interface MigrationOperation {
  type: typeof operationType;
  id: string;
  phase: Phase;
  startTime: string;
  phaseStartTime: string;
  /** The berth.dev/migrate annotation value acknowledged when it started. */
  request?: string;
  source: StorageSnapshot;
  target: StorageSnapshot;
  /** Online passes completed. */
  syncPasses: number;
  /** Online passes completed since the last return to read-write (the pass cap counts these). */
  roundPasses: number;
  /** What the last completed pass copied (its summary), and how long it took. */
  lastDelta?: Delta & { durationMs?: number };
  /** When the last pass completed (a pass older than resyncAfterMs is redone before going read-only). */
  lastPassTime?: string;
  /** Copied by every pass of this run. */
  copied: Delta;
  /** Read-only windows given up (budget spent, proof timeout); after maxReadOnlyReturns the run fails. */
  readOnlyReturns: number;
  /** Failed Jobs in a row (reset by a pass that completes). */
  failures: number;
  /** Jobs created (numbers the Job names). */
  jobCount: number;
  jobName?: string;
  /** None: no Job wanted now; Pending: to create (again); Created: seen, so its absence is a deletion. */
  job: 'None' | 'Pending' | 'Created';
  jobStartTime?: string;
  /** When the current read-only window began (EnteringReadOnly). */
  readOnlySince?: string;
  /** Read-only windows already closed. */
  readOnlySeconds: number;
  /** Set once the end is known; LeavingReadOnly without it returns to Syncing. */
  outcome?: Outcome;
  message?: string;
}

/** status.lastMigration. */
export interface MigrationRecord {
  id: string;
  request?: string;
  startTime: string;
  completionTime: string;
  result: MigrationResultValue;
  from: StorageIdentity;
  to: StorageIdentity;
  objectsCopied: number;
  bytesCopied: number;
  readOnlySeconds: number;
  /** migrate runs that completed (online passes and the final one). */
  passes: number;
  /** metadata.generation when it ended: a failed run is retried when the spec changes again. */
  generation: number;
  /** deleteSourceAfterMigration: Requested once the deleteSource action was issued; Kept otherwise. */
  sourceData?: 'Kept' | 'DeleteRequested';
  message: string;
}

/** The `berth-registry migrate` summary (registry/migrate/summary.ts) as read back; anything may be missing. */
export interface PassSummary {
  objectsCopied?: number;
  bytesCopied?: number;
  objectsDeleted?: number;
  objectsVanished?: number;
  sourceObjects?: number;
  sourceBytes?: number;
  durationMs?: number;
  verified?: { objects?: number; bytes?: number };
  error?: string;
  errorCode?: string;
}

export interface JobObserved {
  state: 'Running' | 'Succeeded' | 'Failed';
  /** Failed because activeDeadlineSeconds passed. */
  deadlineExceeded?: boolean;
  summary?: PassSummary;
  message?: string;
}

export interface Observed {
  now: Date;
  generation: number;
  deleting: boolean;
  /** spec.storage, parsed (undefined: the spec does not parse). */
  storage: StorageSpec | undefined;
  /** status.storage: the storage served when no migration runs (undefined: not recorded yet). */
  served: StorageSpec | undefined;
  spec: {
    /** spec.readOnly: what the fleet returns to. */
    readOnly: boolean;
    /** Longest read-only window for the final sync, from EnteringReadOnly on. */
    readOnlyBudgetSeconds: number;
    deleteSourceAfterMigration: boolean;
  };
  /** The berth.dev/migrate annotation: a new value retries a failed migration. */
  request?: string;
  last?: MigrationRecord;
  /** Why the storage spec.storage names cannot be used (e.g. its credentials Secret is missing). */
  targetProblem?: string;
  /** No maintenance windows, or one is open now (read-only phases start only then). */
  windowOpen: boolean;
  /** Another operation's type when one runs. */
  otherOperation?: string;
  /** Every running registry pod's mode; probed while the fleet switches modes. */
  fleet: PodMode[];
  /** Every registry pod runs the pod template rendered for the target (not just its reloaded config). */
  fleetOnTarget: boolean;
  /** Every registry pod runs the pod template rendered for the source. */
  fleetOnSource: boolean;
  /** The Job of op.jobName (undefined: absent). */
  job?: JobObserved;
}

export interface Limits {
  /** Longest wait for every pod to confirm a mode switch. */
  proofTimeoutMs: number;
  /** Longest wait for every pod to run the target (then the switch is undone). */
  switchTimeoutMs: number;
  /** Margin over a Job's activeDeadlineSeconds before it is given up without its word. */
  jobMarginMs: number;
  pollMs: number;
  /** activeDeadlineSeconds of an online pass. */
  syncTimeoutSeconds: number;
  /** A pass that copied at most this much leaves little enough for the read-only final pass. */
  maxDeltaObjects: number;
  maxDeltaBytes: number;
  /** Online passes per round before going read-only anyway (if a pass fits the budget). */
  maxSyncPasses: number;
  /** Read-only windows given up before the run fails. */
  maxReadOnlyReturns: number;
  /** Failed Jobs in a row retried (a killed pod, a storage error) before the run fails. */
  maxJobRetries: number;
  /** A converged pass older than this (waiting for a window) is redone first. */
  resyncAfterMs: number;
}

export const defaultLimits: Limits = {
  proofTimeoutMs: 240_000,
  switchTimeoutMs: 600_000,
  jobMarginMs: 120_000,
  pollMs: 3_000,
  syncTimeoutSeconds: 6 * 3600,
  maxDeltaObjects: 1000,
  maxDeltaBytes: 1024 ** 3,
  maxSyncPasses: 10,
  maxReadOnlyReturns: 3,
  maxJobRetries: 2,
  resyncAfterMs: 15 * 60_000,
};

export type Action =
  | {
      type: 'createJob';
      jobName: string;
      /** sync: an online pass; final: the read-only pass with --delete. */
      pass: 'sync' | 'final';
      deleteExtra: boolean;
      timeoutSeconds: number;
    }
  | { type: 'deleteJob'; jobName: string }
  /** After a success with deleteSourceAfterMigration: remove the source's data (claim or bucket prefix). */
  | { type: 'deleteSource'; source: StorageSnapshot }
  | { type: 'event'; warning: boolean; reason: string; message: string };

type Cond<R> = { status: boolean; reason: R; message: string };

export interface Step {
  operation: MigrationOperation | undefined;
  last: MigrationRecord | undefined;
  /** status.storage to persist: what the registry serves (undefined: the spec does not parse, leave it). */
  storage: StorageSpec | undefined;
  actions: Action[];
  requeueAfterMs?: number;
  migrating: Cond<ReasonOf<typeof MigratingReason>>;
  /** ReadOnly condition; undefined: another operation runs and owns it. */
  readOnly: Cond<ReasonOf<typeof ReadOnlyReason>> | undefined;
}
