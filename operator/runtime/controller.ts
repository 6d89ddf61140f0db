// A controller: a primary informer and any number of related informers feed keys into one work queue; workers
// call the reconcile function per key. Reconciles are level-triggered: the key is all they get, and they read
// the current state from the caches (or the API server). The outcome decides what happens next:
//
//   resolve {}                      → done until something changes (or the periodic resync)
//   resolve { requeueAfterMs }      → look again later (e.g. waiting for a Deployment to become available)
//   throw                           → retry with per-key exponential backoff (transient API errors)
import type { Logger } from 'pino';
import { describeError, isApiError, RuntimeError } from './errors.ts';
import type { InformerEvent, ObjectCache } from './informer.ts';
import type { OperatorMetrics } from './metrics.ts';
import { controllerOf, type KubeObject } from './objects.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
  /** A label for the reconcile_total metric (default: success, or requeue when requeueAfterMs is set). */
  result?: string;
}

export type ReconcileFn = (key: string, ctx: { logger: Logger }) => Promise<ReconcileResult>;

export interface RelatedWatch {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- informers of any kind can feed a controller
  informer: ObjectCache<any>;
  /** The primary keys an event on this object concerns. */
  map: (obj: KubeObject) => string[];
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  primary: ObjectCache<T>;
  related?: RelatedWatch[];
  /** Keys a primary object maps to (default: its own `namespace/name`); e.g. one key for an aggregate. */
  primaryKeys?: (obj: T) => string[];
  reconcile: ReconcileFn;
  /** Parallel workers (default 4). Keys never run twice at once. */
  concurrency?: number;
  queue?: WorkQueueOptions;
  /** Re-queue every primary object on the informer's periodic resync (default true). */
  reconcileOnResync?: boolean;
  logger: Logger;
  metrics?: OperatorMetrics;
}

/** Maps a child to its controller owner's key, if the owner has the given kind. */
export function ownerKeyMapper(ownerApiVersion: string, ownerKind: string): (obj: KubeObject) => string[] {
  const group = ownerApiVersion.split('/')[0];
  return (obj) => {
    const ref = controllerOf(obj);
    if (ref === undefined || ref.kind !== ownerKind || ref.apiVersion.split('/')[0] !== group) return [];
    const ns = obj.metadata.namespace;
    return [ns === undefined || ns === '' ? ref.name : `${ns}/${ref.name}`];
  };
}

function errorCode(err: unknown): string {
  if (isApiError(err)) return `${err.code}:${String(err.status)}`;
  if (err instanceof RuntimeError) return err.code;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

export class Controller<T extends KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions<T>;
  private running = false;
  private workers: Promise<void> | undefined;

  constructor(opts: ControllerOptions<T>) {
    this.opts = opts;
    this.name = opts.name;
    this.queue = new WorkQueue({
      ...opts.queue,
      onDepth: (d) => opts.metrics?.queueDepth.set({ controller: opts.name }, d),
    });
    opts.metrics?.queueDepth.set({ controller: opts.name }, 0);
    opts.primary.on((e: InformerEvent<T>) => {
      if (e.type === 'resync' && opts.reconcileOnResync === false) return;
      const keys = opts.primaryKeys ? opts.primaryKeys(e.object) : [e.key];
      if (e.type === 'delete' && !opts.primaryKeys) this.queue.cancelDelayed(e.key);
      for (const key of keys) this.enqueue(key);
    });
    for (const rel of opts.related ?? []) {
      rel.informer.on((e: InformerEvent<KubeObject>) => {
        if (e.type === 'resync') return; // the primary's resync covers it
        for (const key of rel.map(e.object)) this.enqueue(key);
        if (e.old !== undefined) for (const key of rel.map(e.old)) this.enqueue(key);
      });
    }
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Queues a key (only while running: a standby replica keeps its queue empty). */
  enqueue(key: string): void {
    if (this.running) this.queue.add(key);
  }

  /** Starts the workers and queues every primary object once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const { primaryKeys } = this.opts;
    if (primaryKeys)
      for (const obj of this.opts.primary.list()) for (const key of primaryKeys(obj)) this.queue.add(key);
    else for (const key of this.opts.primary.keys()) this.queue.add(key);
    const { logger, metrics, name } = this.opts;
    this.workers = this.queue.run(
      async (key) => {
        const end = metrics?.reconcileDuration.startTimer({ controller: name });
        const log = logger.child({ controller: name, key });
        try {
          const result = await this.opts.reconcile(key, { logger: log });
          const label = result.result ?? (result.requeueAfterMs !== undefined ? 'requeue' : 'success');
          metrics?.reconcileTotal.inc({ controller: name, result: label });
          return result;
        } finally {
          end?.();
        }
      },
      this.opts.concurrency ?? 4,
      (key, err, retryInMs) => {
        metrics?.reconcileTotal.inc({ controller: name, result: 'error' });
        metrics?.reconcileErrors.inc({ controller: name, code: errorCode(err) });
        metrics?.queueRetries.inc({ controller: name });
        logger.warn(
          {
            controller: name,
            key,
            err: describeError(err),
            retryInMs: Math.round(retryInMs),
            failures: this.queue.failures(key),
          },
          'reconcile failed; retrying with backoff',
        );
      },
    );
  }

  /** Stops handing out keys and waits for running reconciles to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.queue.shutdown();
    await this.queue.drained();
    await this.workers;
  }
}
