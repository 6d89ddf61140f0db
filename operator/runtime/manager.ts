// The manager ties the runtime together: shared informers (one per kind/namespace/selector), controllers, and
// leader election. Informers run on every replica, leader or not, so a standby's cache is warm and /readyz
// means "caches synced" regardless of leadership. Controllers run only on the leader, and only after every
// informer has synced.
import type { Logger } from 'pino';
import { Controller, type ControllerOptions } from './controller.ts';
import { describeError } from './errors.ts';
import { Informer, InformerSet, type InformerOptions, type ObjectCache } from './informer.ts';
import type { KubeClient } from './kube-client.ts';
import { LeaderElector, type LeaderElectorOptions } from './leader.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { KubeObject } from './objects.ts';

export interface ManagerOptions {
  client: KubeClient;
  logger: Logger;
  metrics?: OperatorMetrics;
  /** Off: this process leads at once (single replica, tests). */
  leaderElection?: Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading' | 'logger'> | false;
  /** Called when leadership is lost after having been held (the process should usually exit). */
  onLostLeadership?: () => void;
  /**
   * Namespaces to watch; unset or empty: all namespaces. With a list, every namespaced informer becomes one
   * informer per namespace (RBAC may grant the operator only those namespaces).
   */
  watchNamespaces?: readonly string[];
  /** Defaults for every informer. */
  informerDefaults?: Pick<InformerOptions<KubeObject>, 'resyncMs' | 'quietTimeoutMs' | 'watchTimeoutSeconds'>;
}

export class Manager {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: OperatorMetrics | undefined;
  private readonly opts: ManagerOptions;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry of informers of any kind
  private readonly informers = new Map<string, ObjectCache<any>>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- controllers of any primary kind
  private readonly controllers: Controller<any>[] = [];
  private elector: LeaderElector | undefined;
  private started = false;
  private stopping = false;
  private leading = false;
  private readonly stopSignal = new AbortController();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
  }

  /**
   * A shared cache: the same options give the same instance. Without an explicit `namespace`, it covers the
   * watched namespaces (all, or one informer per namespace in `watchNamespaces`).
   */
  informer<T extends KubeObject>(opts: Omit<InformerOptions<T>, 'logger'>): ObjectCache<T> {
    const key = JSON.stringify([
      opts.apiVersion,
      opts.kind,
      opts.namespace,
      opts.labelSelector,
      opts.fieldSelector,
      opts.metadataOnly,
    ]);
    let cache = this.informers.get(key) as ObjectCache<T> | undefined;
    if (cache === undefined) {
      const namespaces = opts.namespace !== undefined ? [opts.namespace] : (this.opts.watchNamespaces ?? []);
      const members = (namespaces.length === 0 ? [undefined] : namespaces).map((namespace) =>
        this.newInformer<T>({ ...opts, ...(namespace !== undefined ? { namespace } : {}) }),
      );
      cache = members.length === 1 && members[0] !== undefined ? members[0] : new InformerSet(members);
      const m = this.metrics;
      if (m) {
        const c = cache;
        c.on(() => m.informerObjects.set({ kind: opts.kind }, c.size));
      }
      this.informers.set(key, cache);
      if (this.started) cache.start();
    }
    return cache;
  }

  private newInformer<T extends KubeObject>(opts: Omit<InformerOptions<T>, 'logger'>): Informer<T> {
    const m = this.metrics;
    return new Informer<T>(this.client, {
      ...this.opts.informerDefaults,
      ...opts,
      logger: this.logger,
      onRelist: (kind) => m?.informerRelists.inc({ kind }),
      onWatchRestart: (kind, reason) => m?.watchRestarts.inc({ kind, reason }),
    });
  }

  addController<T extends KubeObject>(opts: Omit<ControllerOptions<T>, 'logger' | 'metrics'>): Controller<T> {
    const c = new Controller<T>({
      ...opts,
      logger: this.logger,
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
    this.controllers.push(c);
    if (this.leading) void this.startControllers();
    return c;
  }

  /** A registered controller by name (tests, diagnostics). */
  getController(name: string): Controller<KubeObject> | undefined {
    return this.controllers.find((c) => c.name === name) as Controller<KubeObject> | undefined;
  }

  /** True once every informer has its first full list. */
  ready(): boolean {
    return this.started && [...this.informers.values()].every((i) => i.hasSynced());
  }

  isLeader(): boolean {
    return this.leading;
  }

  currentLeader(): string | undefined {
    return this.elector?.currentLeader();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
    const le = this.opts.leaderElection;
    if (le === false || le === undefined) {
      this.onStartedLeading();
      return;
    }
    this.elector = new LeaderElector(this.client, {
      ...le,
      logger: this.logger,
      onStartedLeading: () => this.onStartedLeading(),
      onStoppedLeading: () => this.onStoppedLeading(),
    });
    this.elector.start();
  }

  private onStartedLeading(): void {
    this.leading = true;
    this.metrics?.leader.set(1);
    void this.startControllers();
  }

  private onStoppedLeading(): void {
    const was = this.leading;
    this.leading = false;
    this.metrics?.leader.set(0);
    if (this.stopping) return;
    this.logger.warn('lost leadership; stopping controllers');
    void Promise.all(this.controllers.map((c) => c.stop())).finally(() => {
      if (was) this.opts.onLostLeadership?.();
    });
  }

  private async startControllers(): Promise<void> {
    try {
      await Promise.all([...this.informers.values()].map((i) => i.waitForSync(this.stopSignal.signal)));
    } catch (err) {
      this.logger.debug({ err: describeError(err) }, 'stopped before the caches synced');
      return;
    }
    if (!this.leading || this.stopping) return;
    for (const c of this.controllers) c.start();
    this.logger.info({ controllers: this.controllers.map((c) => c.name) }, 'controllers started');
  }

  /**
   * Graceful stop: controllers finish their current reconciles, the Lease is released (so a standby takes over
   * at once), informers stop.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal.abort();
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.elector?.stop();
    this.leading = false;
    this.metrics?.leader.set(0);
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
