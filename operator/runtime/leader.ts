// Leader election on a coordination.k8s.io/v1 Lease, with the semantics client-go's leaderelection uses:
//
// - A candidate may take the Lease when it is unheld (no holder) or when its record has not changed for
//   `leaseDurationMs` *as observed on the candidate's own clock* (so clock skew between replicas does not
//   matter: only "I have not seen a renewal for that long" counts).
// - All writes are PUTs with the observed resourceVersion, so two candidates can never both win.
// - The leader renews every `retryPeriodMs`; if it cannot renew for `renewDeadlineMs` (< leaseDuration), or it
//   finds another holder in the Lease, it stops leading at once.
// - `stop()` releases the Lease (holder cleared) so a successor does not have to wait for it to expire;
//   `stop({ release: false })` just stops renewing, which is what a killed process looks like.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { describeError, isAlreadyExists, isConflict, isNotFound } from './errors.ts';
import type { KubeClient } from './kube-client.ts';
import type { KubeObject } from './objects.ts';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  /** This candidate's unique identity (pod name + a random suffix, typically). */
  identity: string;
  /** How long a Lease is honoured without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** Pause between attempts (default 2 s). */
  retryPeriodMs?: number;
  logger?: Logger;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  /** Called whenever the observed holder changes (including to nobody). */
  onNewLeader?: (identity: string | undefined) => void;
}

/** MicroTime, as the API server wants it: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly opts: Required<
    Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>
  > &
    LeaderElectorOptions;
  private leading = false;
  private observed: Lease | undefined;
  private observedAt = 0;
  private lastRenew = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private observedHolder: string | undefined;

  constructor(client: KubeClient, opts: LeaderElectorOptions) {
    const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
    this.client = client;
    this.identity = opts.identity;
    this.opts = { ...opts, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder as last observed (undefined: nobody). */
  currentLeader(): string | undefined {
    return this.observedHolder;
  }

  /** Starts campaigning; resolves immediately (use the callbacks). */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops campaigning. A leader releases the Lease (unless `release: false`, which simulates a crash: the
   * Lease stays held until it expires) and reports onStoppedLeading.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      if (opts.release !== false) await this.release();
      this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.opts.logger?.info(
      { identity: this.identity, lease: this.leaseKey() },
      leading ? 'became leader' : 'stopped leading',
    );
    if (leading) this.opts.onStartedLeading?.();
    else this.opts.onStoppedLeading?.();
  }

  private leaseKey(): string {
    return `${this.opts.namespace}/${this.opts.name}`;
  }

  private observe(lease: Lease | undefined): void {
    const before = this.observed;
    const changed =
      before === undefined ||
      lease === undefined ||
      before.metadata.resourceVersion !== lease.metadata.resourceVersion;
    if (changed) this.observedAt = Date.now();
    this.observed = lease;
    const holder = lease?.spec?.holderIdentity ?? undefined;
    const normalized = holder === '' ? undefined : holder;
    if (normalized !== this.observedHolder) {
      this.observedHolder = normalized;
      this.opts.onNewLeader?.(normalized);
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.opts.logger?.warn(
          { identity: this.identity, err: describeError(err) },
          'leader election: lease update failed',
        );
      }
      if (ok) {
        this.lastRenew = Date.now();
        this.setLeading(true);
      } else if (this.leading) {
        // Someone else holds it now, or we could not renew within the deadline.
        const lost = this.observedHolder !== undefined && this.observedHolder !== this.identity;
        if (lost || Date.now() - this.lastRenew >= this.opts.renewDeadlineMs) this.setLeading(false);
      }
      const jitter = this.leading ? 1 : 1 + Math.random() * 0.2;
      await sleep(this.opts.retryPeriodMs * jitter, undefined, { signal }).catch(() => undefined);
    }
  }

  /** One round: returns true if this candidate holds the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const ref = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: this.opts.namespace,
      name: this.opts.name,
    };
    const leaseDurationSeconds = Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000));
    const current = await this.client.get<Lease>(ref);
    if (current === undefined) {
      const fresh: Lease = {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, namespace: ref.namespace },
        spec: {
          holderIdentity: this.identity,
          leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.observe(await this.client.create(fresh));
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.identity;
    if (!mine && holder !== '' && Date.now() - this.observedAt < this.opts.leaseDurationMs) {
      return false; // held by someone who renewed recently (as far as we have seen)
    }
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds,
        renewTime: microTime(now),
        ...(mine
          ? {}
          : {
              acquireTime: microTime(now),
              leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === '' ? 0 : 1),
            }),
      },
    };
    try {
      this.observe(await this.client.replace(next));
      return true;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return false;
      throw err;
    }
  }

  private async release(): Promise<void> {
    const lease = this.observed;
    if (lease === undefined || lease.spec?.holderIdentity !== this.identity) return;
    const released: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(Date.now()),
        acquireTime: null,
      },
    };
    try {
      this.observe(await this.client.replace(released));
    } catch (err) {
      this.opts.logger?.warn(
        { identity: this.identity, err: describeError(err) },
        'could not release the lease',
      );
    }
  }
}
