// An informer: a local cache of one kind of object, kept current by list + watch, that tells its handlers what
// changed. client-node's watches can stall without an error (a half-dead TCP connection, a proxy that stops
// forwarding), so this one carries its own watchdog:
//
// - a watch that has been quiet (no event, no bookmark) for `quietTimeoutMs` is torn down and restarted from
//   the last resourceVersion it saw;
// - every `resyncMs` the informer relists everything, diffs the list against its cache (so changes a stalled
//   watch missed are found), and reports every object again as a `resync` so level-triggered controllers
//   re-check the world;
// - any watch error (410 Gone included) leads to a relist, after a backoff if errors repeat.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { describeError, isGone } from './errors.ts';
import type { KubeClient } from './kube-client.ts';
import { objectKey, type KubeObject } from './objects.ts';

export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

export interface InformerEvent<T> {
  type: InformerEventType;
  key: string;
  object: T;
  /** The cached version before an update. */
  old?: T;
}

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

export interface InformerOptions<T extends KubeObject> {
  apiVersion: string;
  kind: string;
  /** Watch one namespace; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Cache only metadata (PartialObjectMetadata): for kinds whose content the controller reads live. */
  metadataOnly?: boolean;
  /** Full relist period (default 5 min). */
  resyncMs?: number;
  /** Restart a watch that has delivered nothing for this long (default 2 min). */
  quietTimeoutMs?: number;
  /** How often the watchdog looks (default: a tenth of the quiet timeout, at most 5 s). */
  watchdogIntervalMs?: number;
  /** Server-side watch timeout; a random value between this and twice it is used (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Stored instead of the object (default: the object without metadata.managedFields). */
  transform?: (obj: T) => T;
  logger?: Logger;
  /** Observability hooks. */
  onRelist?: (kind: string) => void;
  onWatchRestart?: (kind: string, reason: 'quiet' | 'closed' | 'error' | 'resync') => void;
}

function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export class Informer<T extends KubeObject> {
  readonly kind: string;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly transform: (obj: T) => T;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private runner: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private watchAbort: AbortController | undefined;
  private lastActivity = 0;
  /** Counts, for tests and logs. */
  readonly stats = { relists: 0, watchRestarts: 0, quietRestarts: 0, events: 0 };

  constructor(client: KubeClient, opts: InformerOptions<T>) {
    this.client = client;
    this.opts = opts;
    this.kind = opts.kind;
    this.transform = opts.transform ?? stripManagedFields;
  }

  /** Registers a handler; it receives every later event (and a `resync` for everything at each relist). */
  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  get size(): number {
    return this.store.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list has been loaded. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error(`${this.kind} informer: stopped before it synced`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  start(): void {
    this.runner ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.watchAbort?.abort();
    await this.runner;
  }

  /** Forces a relist now (tests, or a caller that knows the cache is stale). */
  relistNow(): void {
    this.forceRelist = true;
    this.watchAbort?.abort();
  }

  private forceRelist = false;

  private emit(event: InformerEvent<T>): void {
    for (const h of this.handlers) {
      try {
        h(event);
      } catch (err) {
        this.opts.logger?.error(
          { kind: this.kind, key: event.key, err: describeError(err) },
          'informer handler failed',
        );
      }
    }
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: T): void {
    const obj = this.transform(raw);
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      if (old === undefined) return;
      this.store.delete(key);
      this.emit({ type: 'delete', key, object: obj });
      return;
    }
    if (old?.metadata.resourceVersion === obj.metadata.resourceVersion && old !== undefined) return;
    this.store.set(key, obj);
    this.emit(
      old === undefined ? { type: 'add', key, object: obj } : { type: 'update', key, object: obj, old },
    );
  }

  /** Lists everything and reconciles the cache with it; returns the list's resourceVersion. */
  private async relist(signal: AbortSignal): Promise<string> {
    const listed = await this.client.list<T>(this.opts.apiVersion, this.opts.kind, {
      ...(this.opts.namespace !== undefined ? { namespace: this.opts.namespace } : {}),
      ...(this.opts.labelSelector !== undefined ? { labelSelector: this.opts.labelSelector } : {}),
      ...(this.opts.fieldSelector !== undefined ? { fieldSelector: this.opts.fieldSelector } : {}),
      ...(this.opts.metadataOnly === true ? { metadataOnly: true } : {}),
      signal,
    });
    this.stats.relists++;
    this.opts.onRelist?.(this.kind);
    const seen = new Set<string>();
    const unchanged: T[] = [];
    for (const raw of listed.items) {
      const obj = this.transform(raw);
      const key = objectKey(obj);
      seen.add(key);
      const old = this.store.get(key);
      if (old !== undefined && old.metadata.resourceVersion === obj.metadata.resourceVersion) {
        unchanged.push(old);
        continue;
      }
      this.apply(old === undefined ? 'ADDED' : 'MODIFIED', obj);
    }
    for (const [key, old] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit({ type: 'delete', key, object: old });
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    } else {
      for (const obj of unchanged) this.emit({ type: 'resync', key: objectKey(obj), object: obj });
    }
    return listed.resourceVersion;
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    const resyncMs = this.opts.resyncMs ?? 300_000;
    const quietMs = this.opts.quietTimeoutMs ?? 120_000;
    const tickMs = this.opts.watchdogIntervalMs ?? Math.min(5_000, Math.max(50, quietMs / 10));
    const baseTimeout = this.opts.watchTimeoutSeconds ?? 300;
    let failures = 0;
    while (!stop.aborted) {
      let rv: string;
      try {
        rv = await this.relist(stop);
        failures = 0;
      } catch (err) {
        if (stop.aborted) break;
        failures++;
        this.opts.logger?.warn(
          { kind: this.kind, err: describeError(err), failures },
          'list failed; retrying',
        );
        await sleep(backoffMs(failures), undefined, { signal: stop }).catch(() => undefined);
        continue;
      }
      const relistAt = Date.now() + resyncMs;
      this.forceRelist = false;
      // Watch until it is time to relist; restart quiet or closed watches from the last resourceVersion seen.
      while (!stop.aborted && Date.now() < relistAt && !this.forceRelist) {
        const abort = new AbortController();
        this.watchAbort = abort;
        let reason: 'quiet' | 'resync' | undefined;
        this.lastActivity = Date.now();
        const timer = setInterval(() => {
          if (Date.now() - this.lastActivity > quietMs) {
            reason = 'quiet';
            abort.abort();
          } else if (Date.now() >= relistAt) {
            reason = 'resync';
            abort.abort();
          }
        }, tickMs);
        const onStop = () => abort.abort();
        stop.addEventListener('abort', onStop, { once: true });
        let watchError: unknown;
        try {
          await this.client.watch<T>(
            this.opts.apiVersion,
            this.opts.kind,
            {
              ...(this.opts.namespace !== undefined ? { namespace: this.opts.namespace } : {}),
              ...(this.opts.labelSelector !== undefined ? { labelSelector: this.opts.labelSelector } : {}),
              ...(this.opts.fieldSelector !== undefined ? { fieldSelector: this.opts.fieldSelector } : {}),
              ...(this.opts.metadataOnly === true ? { metadataOnly: true } : {}),
              resourceVersion: rv,
              allowBookmarks: true,
              timeoutSeconds: baseTimeout + Math.floor(Math.random() * baseTimeout),
              signal: abort.signal,
            },
            (event) => {
              this.lastActivity = Date.now();
              this.stats.events++;
              const nextRv = event.object.metadata.resourceVersion;
              if (nextRv !== undefined && nextRv !== '') rv = nextRv;
              if (event.type !== 'BOOKMARK') this.apply(event.type, event.object);
            },
          );
        } catch (err) {
          watchError = err;
        } finally {
          clearInterval(timer);
          stop.removeEventListener('abort', onStop);
          this.watchAbort = undefined;
        }
        if (stop.aborted) break;
        this.stats.watchRestarts++;
        if (watchError !== undefined) {
          this.opts.onWatchRestart?.(this.kind, 'error');
          if (!isGone(watchError)) {
            failures++;
            this.opts.logger?.warn(
              { kind: this.kind, err: describeError(watchError), failures },
              'watch failed; relisting',
            );
            await sleep(backoffMs(failures), undefined, { signal: stop }).catch(() => undefined);
          } else {
            this.opts.logger?.debug({ kind: this.kind }, 'watch expired (410); relisting');
          }
          break; // relist
        }
        if (reason === 'quiet') {
          this.stats.quietRestarts++;
          this.opts.logger?.info({ kind: this.kind, quietMs }, 'watch quiet for too long; restarting it');
        }
        this.opts.onWatchRestart?.(this.kind, reason ?? 'closed');
        failures = 0;
      }
    }
  }
}

/** 0.5 s, 1 s, 2 s ... capped at 30 s, with ±25 % jitter. */
function backoffMs(failures: number): number {
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
  return base * (0.75 + Math.random() * 0.5);
}

/** What controllers need from a cache: one informer, or several (one per watched namespace). */
export interface ObjectCache<T extends KubeObject> {
  readonly kind: string;
  on(handler: InformerHandler<T>): void;
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
  readonly size: number;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Several informers of one kind (e.g. one per namespace when RBAC grants only those) behind one cache. */
export class InformerSet<T extends KubeObject> implements ObjectCache<T> {
  readonly kind: string;
  readonly members: readonly Informer<T>[];

  constructor(members: readonly Informer<T>[]) {
    const first = members[0];
    if (first === undefined) throw new Error('an InformerSet needs at least one informer');
    this.kind = first.kind;
    this.members = members;
  }

  on(handler: InformerHandler<T>): void {
    for (const m of this.members) m.on(handler);
  }

  get(key: string): T | undefined {
    for (const m of this.members) {
      const v = m.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  list(): T[] {
    return this.members.flatMap((m) => m.list());
  }

  keys(): string[] {
    return this.members.flatMap((m) => m.keys());
  }

  get size(): number {
    return this.members.reduce((n, m) => n + m.size, 0);
  }

  hasSynced(): boolean {
    return this.members.every((m) => m.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.members.map((m) => m.waitForSync(signal)));
  }

  start(): void {
    for (const m of this.members) m.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}
