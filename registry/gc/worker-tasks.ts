// GcTasks spread over worker threads (worker.ts), each with its own storage driver. On a filesystem the
// collector is bound by system calls, and from one thread every async fs call costs a round trip through
// libuv's thread pool that is dearer than the call; blocking calls in a few workers use every core without
// that toll. Each task goes to the worker with the fewest in flight; the mark set is copied to every worker
// once, between the mark and the sweep.
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

import './worker.ts';

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

export function workerTasks(setup: WorkerSetup, count: number): GcTasks {
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
  const dispatch = (request: TaskRequest): Promise<unknown> => {
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
      const list = [...marked];
      await Promise.all(pool.map((entry) => send(entry, { op: 'useMarked', marked: list })));
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
