// The notification health controller: copies how a registry's webhook endpoints are doing
// (GET /berth/v1/notifications) into ContainerRegistry status.notifications. Like every controller it runs only
// while this replica leads; it asks only while the registry is Ready and spec.notifications has an enabled
// endpoint, once a minute, with a token it signs itself for `registry:catalog:*` only. The answer is one
// registry pod's (the Service picks it), named in status.notifications.pod. status.notifications is written by
// server-side apply under its own field manager, and removed the same way once no endpoint is enabled.
import type { Logger } from 'pino';
import {
  notificationsHealthResponseSchema,
  type NotificationsHealthResponse,
} from '../../../registry/http/notifications-api.ts';
import { ConditionType, type NotificationsStatus } from '../../api/index.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { describeError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { Condition, KubeObject } from '../../runtime/objects.ts';
import { ContainerRegistryKind, type RegistryObject } from '../../reconcile/registry-api.ts';
import { applyStatusAs } from '../status-apply.ts';
import {
  catalogAccess,
  registryServiceUrl,
  registryTokenSigner,
  type RegistryRef,
  type RegistryTokenSigner,
} from '../registry-access.ts';

export const notificationsFieldManager = 'berth-operator-notifications';

/** How often a registry's endpoints are checked. */
export const defaultNotificationsPollMs = 60_000;

export interface NotificationsControllerOptions {
  /** Between checks (default 60 s); for tests. */
  pollMs?: number;
  /** The registry's base URL (default: its Service in the cluster); for tests outside a cluster. */
  registryUrl?: (ref: RegistryRef) => string;
  /** Signs the catalog token (default: with the registry's own key, from its Secret). */
  tokenSigner?: (client: KubeClient, ref: RegistryRef) => Promise<RegistryTokenSigner>;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

interface RegistryWithNotifications extends RegistryObject {
  spec?: { notifications?: { endpoints?: { disabled?: boolean }[] } };
  status?: { conditions?: Condition[]; notifications?: NotificationsStatus };
}

/** Whether the spec has an endpoint the registry delivers to (read raw: an invalid spec is the reconciler's). */
function notificationsEnabled(registry: RegistryWithNotifications): boolean {
  return registry.spec?.notifications?.endpoints?.some((endpoint) => endpoint.disabled !== true) ?? false;
}

export function notificationsStatus(
  answer: NotificationsHealthResponse,
  checkedAt: Date,
): NotificationsStatus {
  return {
    endpoints: answer.endpoints.map((e) => ({
      name: e.name,
      healthy: e.healthy,
      pending: e.pending,
      sent: e.sent,
      failed: e.failed,
      dropped: e.dropped,
      ...(e.lastFailure !== undefined ? { lastFailure: e.lastFailure.slice(0, 128) } : {}),
      ...(e.failingSince !== undefined ? { failingSince: e.failingSince } : {}),
    })),
    pod: answer.pod,
    checkedAt: checkedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

export class NotificationsController {
  private readonly client: KubeClient;
  private readonly registries: { get(key: string): KubeObject | undefined };
  private readonly opts: NotificationsControllerOptions;
  /** When each registry is next due (in memory: a new leader asks once at start). */
  private readonly due = new Map<string, number>();

  constructor(
    client: KubeClient,
    registries: NotificationsController['registries'],
    opts: NotificationsControllerOptions = {},
  ) {
    this.client = client;
    this.registries = registries;
    this.opts = opts;
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.registries.get(key) as RegistryWithNotifications | undefined;
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
      this.due.delete(key);
      return {};
    }
    if (!notificationsEnabled(raw)) {
      this.due.delete(key);
      if (raw.status?.notifications !== undefined) {
        // Applying none of the fields this manager owns removes them.
        await applyStatusAs(this.client, raw, {}, notificationsFieldManager);
        logger.info('notification health removed: no endpoint is enabled');
      }
      return { result: 'disabled' };
    }
    const ready = raw.status?.conditions?.find((c) => c.type === ConditionType.Ready);
    if (ready?.status !== 'True') return { result: 'notReady' };
    const pollMs = this.opts.pollMs ?? defaultNotificationsPollMs;
    const now = Date.now();
    const due = this.due.get(key) ?? now;
    // Other changes to the registry (its own status writes too) come here as well: they do not poll sooner.
    if (due > now) return { requeueAfterMs: due - now, result: 'waiting' };
    this.due.set(key, now + pollMs);

    const ref: RegistryRef = { namespace: raw.metadata.namespace ?? '', name: raw.metadata.name };
    let answer: NotificationsHealthResponse;
    try {
      answer = await this.fetchHealth(ref);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'could not read the registry’s notification health');
      return { requeueAfterMs: pollMs, result: 'registryError' };
    }
    const status = notificationsStatus(answer, new Date(now));
    await applyStatusAs(this.client, raw, { notifications: status }, notificationsFieldManager);
    const failing = status.endpoints.filter((e) => !e.healthy).map((e) => e.name);
    logger.debug({ pod: status.pod, failing }, 'notification health recorded');
    return { requeueAfterMs: pollMs };
  }

  private async fetchHealth(ref: RegistryRef): Promise<NotificationsHealthResponse> {
    const sign = await (this.opts.tokenSigner ?? registryTokenSigner)(this.client, ref);
    const base = (this.opts.registryUrl ?? registryServiceUrl)(ref);
    const res = await fetch(new URL('/berth/v1/notifications', base), {
      headers: { authorization: `Bearer ${await sign(catalogAccess)}`, accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
    if (!res.ok) {
      const body = await res.text();
      throw new Error(`GET /berth/v1/notifications: HTTP ${String(res.status)} ${body.slice(0, 300)}`);
    }
    return notificationsHealthResponseSchema.parse(await res.json());
  }
}

export function setupNotificationsController(
  manager: Manager,
  opts: NotificationsControllerOptions = {},
): NotificationsController {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const controller = new NotificationsController(manager.client, registries, opts);
  manager.addController({
    name: 'notifications',
    primary: registries,
    reconcile: (key, { logger }) => controller.reconcile(key, logger),
    concurrency: 2,
  });
  return controller;
}
