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
import type { NotificationsStatus } from '../../api/index.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import {
  failedAnswer,
  registryReady,
  RegistryPoller,
  setupRegistryPoller,
  type PolledRegistry,
  type RegistryPollOptions,
} from '../registry-poller.ts';
import { applyStatusAs } from '../status-apply.ts';

export const notificationsFieldManager = 'berth-operator-notifications';

/** How often a registry's endpoints are checked. */
export const defaultNotificationsPollMs = 60_000;

const healthPath = '/berth/v1/notifications';

export interface NotificationsControllerOptions extends RegistryPollOptions {
  /** Between checks (default 60 s); for tests. */
  pollMs?: number;
}

interface RegistryWithNotifications extends PolledRegistry {
  spec?: { notifications?: { endpoints?: { disabled?: boolean }[] } };
  status?: PolledRegistry['status'] & { notifications?: NotificationsStatus };
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

export class NotificationsController extends RegistryPoller<
  RegistryWithNotifications,
  NotificationsControllerOptions
> {
  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.current(key);
    if (raw === undefined) return {};
    if (!notificationsEnabled(raw)) {
      this.due.delete(key);
      if (raw.status?.notifications !== undefined) {
        // Applying none of the fields this manager owns removes them.
        await applyStatusAs(this.client, raw, {}, notificationsFieldManager);
        logger.info('notification health removed: no endpoint is enabled');
      }
      return { result: 'disabled' };
    }
    if (!registryReady(raw)) return { result: 'notReady' };
    const pollMs = this.opts.pollMs ?? defaultNotificationsPollMs;
    const now = Date.now();
    const due = this.due.get(key) ?? now;
    // Other changes to the registry (its own status writes too) come here as well: they do not poll sooner.
    if (due > now) return { requeueAfterMs: due - now, result: 'waiting' };
    this.due.set(key, now + pollMs);

    let answer: NotificationsHealthResponse;
    try {
      const res = await this.get(raw, healthPath);
      if (!res.ok) throw await failedAnswer(res, healthPath);
      answer = notificationsHealthResponseSchema.parse(await res.json());
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
}

export function setupNotificationsController(
  manager: Manager,
  opts: NotificationsControllerOptions = {},
): NotificationsController {
  return setupRegistryPoller(
    manager,
    'notifications',
    (client, registries) => new NotificationsController(client, registries, opts),
  );
}
