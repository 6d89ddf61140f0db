// The storage usage controller: copies a registry's usage (GET /berth/v1/usage, the registry's own periodic
// scan) into ContainerRegistry status.usage, the total and the 10 largest repositories. Like every controller
// it runs only while this replica leads. It asks at most once per scan interval per registry (spec.usage,
// default 10m: asking more often would only read the same scan again), only while the registry is Ready, with a token it signs itself for `registry:catalog:*` only; status.usage is written by
// server-side apply under its own field manager, so the registry reconciler's status fields are not touched.
import type { Logger } from 'pino';
import { registryUsageResponseSchema, type RegistryUsageResponse } from '../../../registry/http/usage-api.ts';
import { ConditionType, usageTopRepositories, type StorageUsageStatus } from '../../api/index.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { describeError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { Condition, KubeObject } from '../../runtime/objects.ts';
import { ContainerRegistryKind, parseRegistry, type RegistryObject } from '../../reconcile/registry-api.ts';
import { parseDuration } from '../../../registry/config/schema.ts';
import { applyStatusAs } from '../status-apply.ts';
import {
  catalogAccess,
  registryServiceUrl,
  registryTokenSigner,
  type RegistryRef,
  type RegistryTokenSigner,
} from '../registry-access.ts';
import { defaultUsageInterval, usagePollMs } from './interval.ts';
import { sameUsage, usageStatus } from './status.ts';

export const usageFieldManager = 'berth-operator-usage';

export interface UsageControllerOptions {
  /** Overrides the registry's scan interval (spec.usage.interval) as the poll interval; for tests. */
  pollMs?: number;
  /** The registry's base URL (default: its Service in the cluster); for tests outside a cluster. */
  registryUrl?: (ref: RegistryRef) => string;
  /** Signs the catalog token (default: with the registry's own key, from its Secret). */
  tokenSigner?: (client: KubeClient, ref: RegistryRef) => Promise<RegistryTokenSigner>;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

interface RegistryWithUsage extends RegistryObject {
  status?: { conditions?: Condition[]; usage?: StorageUsageStatus };
}

/** The registry's answer, or how long to wait when it has no scan to serve yet (503 with Retry-After). */
type UsageAnswer = { usage: RegistryUsageResponse } | { retryAfterMs: number };

export class UsageController {
  private readonly client: KubeClient;
  private readonly registries: { get(key: string): KubeObject | undefined };
  private readonly opts: UsageControllerOptions;
  /** When each registry's usage is next due (in memory: a new leader asks once at start, which is cheap). */
  private readonly due = new Map<string, number>();

  constructor(
    client: KubeClient,
    registries: UsageController['registries'],
    opts: UsageControllerOptions = {},
  ) {
    this.client = client;
    this.registries = registries;
    this.opts = opts;
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.registries.get(key) as RegistryWithUsage | undefined;
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
      this.due.delete(key);
      return {};
    }
    // Not Ready: nothing to ask; the registry turning Ready is an event on this object and brings it back.
    const ready = raw.status?.conditions?.find((c) => c.type === ConditionType.Ready);
    if (ready?.status !== 'True') return { result: 'notReady' };
    // An invalid spec is the registry reconciler's to report; its registry still scans at the default.
    const parsed = parseRegistry(raw);
    const pollMs =
      this.opts.pollMs ??
      (parsed.success ? usagePollMs(parsed.data.spec) : parseDuration(defaultUsageInterval));
    if (pollMs === undefined) return { result: 'disabled' };
    const now = Date.now();
    const due = this.due.get(key) ?? now;
    // Other changes to the registry (its own status writes too) come here as well: they do not poll sooner.
    if (due > now) return { requeueAfterMs: due - now, result: 'waiting' };

    const ref: RegistryRef = { namespace: raw.metadata.namespace ?? '', name: raw.metadata.name };
    let answer: UsageAnswer;
    try {
      answer = await this.fetchUsage(ref);
    } catch (err) {
      this.due.set(key, now + pollMs);
      logger.warn({ err: describeError(err) }, 'could not read the registry’s storage usage');
      return { requeueAfterMs: pollMs, result: 'registryError' };
    }
    if ('retryAfterMs' in answer) {
      const wait = Math.min(answer.retryAfterMs, pollMs);
      this.due.set(key, now + wait);
      return { requeueAfterMs: wait, result: 'notScanned' };
    }
    this.due.set(key, now + pollMs);
    const usage = usageStatus(answer.usage);
    if (!sameUsage(raw.status?.usage, usage)) {
      await applyStatusAs(this.client, raw, { usage }, usageFieldManager);
      logger.info({ totalBytes: usage.totalBytes, scannedAt: usage.scannedAt }, 'storage usage recorded');
    }
    return { requeueAfterMs: pollMs };
  }

  private async fetchUsage(ref: RegistryRef): Promise<UsageAnswer> {
    const sign = await (this.opts.tokenSigner ?? registryTokenSigner)(this.client, ref);
    const base = (this.opts.registryUrl ?? registryServiceUrl)(ref);
    const res = await fetch(new URL(`/berth/v1/usage?n=${String(usageTopRepositories)}`, base), {
      headers: { authorization: `Bearer ${await sign(catalogAccess)}`, accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status === 503 && retryAfter > 0) {
      await res.body?.cancel();
      return { retryAfterMs: retryAfter * 1000 };
    }
    if (!res.ok) {
      const body = await res.text();
      throw new Error(`GET /berth/v1/usage: HTTP ${String(res.status)} ${body.slice(0, 300)}`);
    }
    return { usage: registryUsageResponseSchema.parse(await res.json()) };
  }
}

export function setupUsageController(manager: Manager, opts: UsageControllerOptions = {}): UsageController {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const controller = new UsageController(manager.client, registries, opts);
  manager.addController({
    name: 'usage',
    primary: registries,
    reconcile: (key, { logger }) => controller.reconcile(key, logger),
    concurrency: 2,
  });
  return controller;
}
