// GcTasks spread over worker threads (worker.ts), each with its own storage driver. On a filesystem the
// collector is bound by system calls, and from one thread every async fs call costs a round trip through
// libuv's thread pool that is dearer than the call; blocking calls in a few workers use every core without
// that toll. Each task goes to the worker with the fewest in flight; the mark set (mark-set.ts) goes to every
// worker once, between the mark and the sweep, in shared memory (not copied).
//
// Memory: each worker is a V8 isolate of its own (~11 MiB), and one that strips TypeScript loads Node's
// stripper too (+~13 MiB). It does not when every module it loads is in Node's compile cache (which cli.ts
// enables): this thread imports the worker's modules (worker.ts and what it imports), flushes the cache to
// disk, and starts each worker from a line of plain JavaScript with the cache directory in its environment.
import { flushCompileCache, getCompileCacheDir } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { GcError } from './errors.ts';
import type { GcTasks, MarkOutcome, SweepOutcome } from './tasks.ts';
import type { TaskMessage, TaskReply, TaskRequest, WorkerSetup } from './worker-protocol.ts';
import type { GcDeletion } from './summary.ts';
// Also what puts worker.ts and its modules into the compile cache before a worker starts (see above).
import { performTask } from './worker.ts';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Why it stopped, once it has. */
  dead?: string;
}

const workerUrl = new URL('./worker.ts', import.meta.url).href;
/** The worker's entry point: plain JavaScript (nothing to strip) that loads worker.ts and runs it. */
const workerEntry =
  "const { parentPort, workerData } = require('node:worker_threads');\n" +
  `import(${JSON.stringify(workerUrl)}).then((m) => m.runWorker(parentPort, workerData));\n`;

/** Workers read the compile cache this thread wrote (it is off in a thread unless its environment says where). */
function workerEnv(): NodeJS.ProcessEnv {
  const dir = getCompileCacheDir();
  if (dir === undefined) return process.env;
  flushCompileCache();
  // getCompileCacheDir() names the subdirectory for this Node version; NODE_COMPILE_CACHE names its parent.
  return { ...process.env, NODE_COMPILE_CACHE: dirname(dir) };
}

/**
 * `count` worker threads; with `local` (tasks on a blocking driver in this thread), this thread takes a share
 * of the work too, one task at a time whenever it has none: a thread fewer for the same parallelism (each
 * worker costs ~17 MiB), while the workers' queues keep them busy during this thread's blocking task.
 */
export function workerTasks(setup: WorkerSetup, count: number, local?: GcTasks): GcTasks {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`workers must be >= 1, got ${count}`);
  let nextId = 0;
  let closing = false;
  const env = workerEnv();
  const pool: PoolWorker[] = Array.from({ length: count }, () => {
    const entry: PoolWorker = {
      worker: new Worker(workerEntry, { eval: true, workerData: setup, env }),
      pending: new Map(),
    };
    const die = (reason: string): void => {
      if (entry.dead !== undefined) return;
      entry.dead = reason;
      for (const { reject } of entry.pending.values()) reject(new GcError('GC_FAILED', reason));
      entry.pending.clear();
    };
    entry.worker.on('message', (reply: TaskReply) => {
      const waiter = entry.pending.get(reply.id);
      if (!waiter) return;
      entry.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new GcError(reply.error.code ?? 'GC_FAILED', reply.error.message));
    });
    entry.worker.on('error', (err) => die(`garbage-collect worker failed: ${err.message}`));
    entry.worker.on('exit', (code) => {
      if (!closing) die(`garbage-collect worker exited (code ${code})`);
    });
    return entry;
  });

  const send = (entry: PoolWorker, request: TaskRequest): Promise<unknown> => {
    if (entry.dead !== undefined) return Promise.reject(new GcError('GC_FAILED', entry.dead));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      entry.pending.set(id, { resolve, reject });
      entry.worker.postMessage({ id, request } satisfies TaskMessage);
    });
  };
  let localBusy = false;
  const runLocal = async (t: GcTasks, request: TaskRequest): Promise<unknown> => {
    localBusy = true;
    try {
      // A turn of the event loop first: the workers' replies (and so their next tasks) go out before this
      // thread blocks.
      await new Promise((resolve) => setImmediate(resolve));
      return await performTask(t, request);
    } finally {
      localBusy = false;
    }
  };
  const dispatch = (request: TaskRequest): Promise<unknown> => {
    if (local && !localBusy) return runLocal(local, request);
    let best = pool[0];
    for (const entry of pool) {
      if (best === undefined || entry.pending.size < best.pending.size) best = entry;
    }
    if (best === undefined) return Promise.reject(new GcError('GC_FAILED', 'no garbage-collect workers'));
    return send(best, request);
  };

  return {
    // Enough queued per worker that none waits on this thread between tasks.
    parallelism: Math.max(2 * count, setup.concurrency),
    markRepository: (repository, deleteUntagged) =>
      dispatch({ op: 'mark', repository, deleteUntagged }) as Promise<MarkOutcome>,
    async useMarked(marked) {
      // The SharedArrayBuffer inside is shared with every worker, not copied.
      await Promise.all([
        ...pool.map((entry) => send(entry, { op: 'useMarked', marked: marked.data })),
        local?.useMarked(marked),
      ]);
    },
    deleteManifests: (repository, candidates, dryRun) =>
      dispatch({ op: 'deleteManifests', repository, candidates, dryRun }) as Promise<GcDeletion[]>,
    deleteLayerLinks: (repository, dryRun) =>
      dispatch({ op: 'deleteLayerLinks', repository, dryRun }) as Promise<GcDeletion[]>,
    sweepBlobPrefix: (prefix, dryRun) =>
      dispatch({ op: 'sweepBlobPrefix', prefix, dryRun }) as Promise<SweepOutcome>,
    async close() {
      closing = true;
      await Promise.all(pool.map((entry) => entry.worker.terminate()));
    },
  };
}
