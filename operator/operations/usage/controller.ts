// The storage usage controller: copies a registry's usage (GET /berth/v1/usage, the registry's own periodic
// scan) into ContainerRegistry status.usage, the total and the 10 largest repositories. Like every controller
// it runs only while this replica leads. It asks at most once per scan interval per registry (spec.usage,
// default 10m: asking more often would only read the same scan again), only while the registry is Ready, with a token it signs itself for `registry:catalog:*` only; status.usage is written by
// server-side apply under its own field manager, so the registry reconciler's status fields are not touched.
import type { Logger } from 'pino';
import { registryUsageResponseSchema, type RegistryUsageResponse } from '../../../registry/http/usage-api.ts';
import { usageTopRepositories, type StorageUsageStatus } from '../../api/index.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import { parseRegistry } from '../../reconcile/registry-api.ts';
import { parseDuration } from '../../../registry/config/schema.ts';
import {
  failedAnswer,
  registryReady,
  RegistryPoller,
  setupRegistryPoller,
  type PolledRegistry,
  type RegistryPollOptions,
} from '../registry-poller.ts';
import { applyStatusAs } from '../status-apply.ts';
import { defaultUsageInterval, usagePollMs } from './interval.ts';
import { sameUsage, usageStatus } from './status.ts';

export const usageFieldManager = 'berth-operator-usage';

export interface UsageControllerOptions extends RegistryPollOptions {
  /** Overrides the registry's scan interval (spec.usage.interval) as the poll interval; for tests. */
  pollMs?: number;
}

interface RegistryWithUsage extends PolledRegistry {
  status?: PolledRegistry['status'] & { usage?: StorageUsageStatus };
}

/** The registry's answer, or how long to wait when it has no scan to serve yet (503 with Retry-After). */
type UsageAnswer = { usage: RegistryUsageResponse } | { retryAfterMs: number };

export class UsageController extends RegistryPoller<RegistryWithUsage, UsageControllerOptions> {
  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.current(key);
    if (raw === undefined) return {};
    if (!registryReady(raw)) return { result: 'notReady' };
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

    let answer: UsageAnswer;
    try {
      answer = await this.fetchUsage(raw);
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

  private async fetchUsage(raw: RegistryWithUsage): Promise<UsageAnswer> {
    const path = `/berth/v1/usage?n=${String(usageTopRepositories)}`;
    const res = await this.get(raw, path);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status === 503 && retryAfter > 0) {
      await res.body?.cancel();
      return { retryAfterMs: retryAfter * 1000 };
    }
    if (!res.ok) throw await failedAnswer(res, path);
    return { usage: registryUsageResponseSchema.parse(await res.json()) };
  }
}

export function setupUsageController(manager: Manager, opts: UsageControllerOptions = {}): UsageController {
  return setupRegistryPoller(
    manager,
    'usage',
    (client, registries) => new UsageController(client, registries, opts),
  );
}
