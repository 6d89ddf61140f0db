// A garbage-collection worker thread: builds its own storage driver (blocking system calls on the
// filesystem: this thread does nothing else) and runs the tasks the pool in worker-tasks.ts sends it.
//
// No side effects on import: worker-tasks.ts imports this module in the main thread too, so that Node's
// compile cache holds it (with every module it imports) before a worker starts; a worker then loads all of
// them from the cache and never loads the TypeScript stripper (~13 MiB per thread, worker-tasks.ts).
import type { MessagePort } from 'node:worker_threads';
import { createStorageDriver } from '../storage/factory.ts';
import { GcError } from './errors.ts';
import { MarkSet } from './mark-set.ts';
import { localTasks, type GcTasks } from './tasks.ts';
import type { TaskMessage, TaskReply, TaskRequest, WorkerSetup } from './worker-protocol.ts';

/** Runs one request on `t`: in a worker, and in the main thread when it takes a share (worker-tasks.ts). */
export function performTask(t: GcTasks, request: TaskRequest): Promise<unknown> {
  switch (request.op) {
    case 'mark':
      return t.markRepository(request.repository, request.deleteUntagged);
    case 'useMarked':
      return t.useMarked(MarkSet.fromData(request.marked));
    case 'deleteManifests':
      return t.deleteManifests(request.repository, request.candidates, request.dryRun);
    case 'deleteLayerLinks':
      return t.deleteLayerLinks(request.repository, request.dryRun);
    case 'sweepBlobPrefix':
      return t.sweepBlobPrefix(request.prefix, request.dryRun);
  }
}

/** The worker's body: answers the pool's requests on `port` (the worker's parentPort). */
export function runWorker(port: MessagePort, setup: WorkerSetup): void {
  const tasks: Promise<GcTasks> = createStorageDriver(setup.storage, { blocking: true }).then((driver) =>
    localTasks(driver, setup.concurrency),
  );

  async function perform(request: TaskRequest): Promise<unknown> {
    return performTask(await tasks, request);
  }

  port.on('message', (message: TaskMessage) => {
    perform(message.request).then(
      (result) => port.postMessage({ id: message.id, ok: true, result } satisfies TaskReply),
      (err: unknown) => {
        const failure =
          err instanceof GcError
            ? { message: err.message, code: err.code }
            : { message: err instanceof Error ? err.message : String(err) };
        port.postMessage({ id: message.id, ok: false, error: failure } satisfies TaskReply);
      },
    );
  });
}
