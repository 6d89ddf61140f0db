// The messages between gc.ts's worker pool (worker-tasks.ts) and each worker thread (worker.ts).
import type { RegistryConfig } from '../config/schema.ts';
import type { GcErrorCode } from './errors.ts';
import type { Candidate } from './mark.ts';
import type { MarkSetData } from './mark-set.ts';
import type { BlobPrefix } from './walk.ts';

/** What a worker is started with: it builds its own storage driver from the same config section. */
export interface WorkerSetup {
  storage: RegistryConfig['storage'];
  /** Storage operations in flight at once inside this worker. */
  concurrency: number;
}

export type TaskRequest =
  | { op: 'mark'; repository: string; deleteUntagged: boolean }
  | { op: 'useMarked'; marked: MarkSetData }
  | { op: 'deleteManifests'; repository: string; candidates: Candidate[]; dryRun: boolean }
  | { op: 'deleteLayerLinks'; repository: string; dryRun: boolean }
  | { op: 'sweepBlobPrefix'; prefix: BlobPrefix; dryRun: boolean };

export interface TaskMessage {
  id: number;
  request: TaskRequest;
}

/** A failure as it crosses the thread: GcError codes survive, anything else becomes GC_FAILED. */
export interface TaskFailure {
  message: string;
  code?: GcErrorCode;
}

export type TaskReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: TaskFailure };
