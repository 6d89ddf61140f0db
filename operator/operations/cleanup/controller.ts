// The CleanupPolicy controller. Like every controller it runs only while this replica leads, so a policy's
// schedule is evaluated, and a run made, by one replica. Each reconcile: parse the policy (an invalid one gets
// a readable condition), check its registry (exists, Ready, allows deletes), work out the next run (GitLab:
// a cadence counts from the last run, and saving a changed policy starts the interval again), and when a run is
// due (scheduled, a new `berth.dev/run` value, or one interrupted by an operator restart) PERSIST it in
// status.operation, then run it (run.ts), write the report ConfigMap and status.lastRun, and record Events.
// A run is idempotent (it deletes by tag what is expired now), so an interrupted one is simply run again.
//
// Safety: tags whose image a Pod uses are kept; if the Pods cannot be listed, nothing is deleted. The
// operator signs its own short-lived tokens, each for one scope (catalog; pull or delete on one repository).
import type { Logger } from 'pino';
import { parseDuration } from '../../../registry/config/schema.ts';
import type { AccessRequest } from '../../../registry/auth/types.ts';
import {
  CleanupConditionType,
  CleanupRegistryReason,
  CleanupRunReason,
  ConditionType,
  parseCleanupPolicy,
  type CleanupPolicy,
  type CleanupRun,
  type ContainerRegistry,
} from '../../api/index.ts';
import { childNames, labelKeys, managedBy, ports } from '../../render/names.ts';
import { setConditions, statusUpToDate, type ConditionInput } from '../../runtime/conditions.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { describeError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { Condition, KubeObject } from '../../runtime/objects.ts';
import { kubeTime, timedId } from '../../runtime/time.ts';
import { ContainerRegistryKind, parseRegistry, type RegistryObject } from '../../reconcile/registry-api.ts';
import { recordEvent } from '../events.ts';
import { applyStatusAs } from '../status-apply.ts';
import { registryServiceUrl, registryTokenSigner, type RegistryRef } from '../registry-access.ts';
import { imagesInUse, type PodImages } from './in-use.ts';
import { RegistryClient } from './registry-client.ts';
import { reportConfigMap, reportName, reportText } from './report.ts';
import { runCleanup, type RunReport } from './run.ts';
import { nextRunAfter } from './schedule.ts';

/** Any new value runs the policy now (acknowledged in status.lastRun.request). */
export const runAnnotation = 'berth.dev/run';
export const cleanupFieldManager = 'berth-operator-cleanup';

export interface CleanupControllerOptions {
  /** Namespaces the operator watches (empty: all): where Pods are looked at for images in use. */
  watchNamespaces?: readonly string[];
  concurrency?: number;
  /** The registry's base URL (default: its Service in the cluster); for tests outside a cluster. */
  registryUrl?: (ref: RegistryRef) => string;
}

interface PolicyObject extends KubeObject {
  spec?: unknown;
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    lastRun?: CleanupRun;
    nextRun?: string;
    operation?: {
      id: string;
      phase: string;
      startTime: string;
      trigger?: CleanupRun['trigger'];
      request?: string;
    };
  };
}

interface RegistryState {
  ready: boolean;
  reason: (typeof CleanupRegistryReason)[keyof typeof CleanupRegistryReason];
  message: string;
  registry?: ContainerRegistry;
}

const runId = (d: Date) => timedId('cleanup', d);
const maxRequeueMs = 60 * 60_000;

export class CleanupPolicyController {
  private readonly client: KubeClient;
  private readonly policies: { get(key: string): KubeObject | undefined };
  private readonly registries: { get(key: string): KubeObject | undefined };
  private readonly opts: CleanupControllerOptions;
  /** Aborted when the operator stops: a run in progress stops deleting and is run again by the next leader. */
  private readonly stopping = new AbortController();

  constructor(
    client: KubeClient,
    caches: {
      policies: CleanupPolicyController['policies'];
      registries: CleanupPolicyController['registries'];
    },
    opts: CleanupControllerOptions = {},
  ) {
    this.client = client;
    this.policies = caches.policies;
    this.registries = caches.registries;
    this.opts = opts;
  }

  stop(): void {
    this.stopping.abort();
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.policies.get(key) as PolicyObject | undefined;
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) return {};
    const now = new Date();
    const status = raw.status ?? {};
    const { status: _status, ...withoutStatus } = raw;
    const parsed = parseCleanupPolicy(withoutStatus);
    if (!parsed.success) {
      const message = `invalid spec: ${parsed.message}`;
      await this.writeStatus(raw, now, {
        conditions: [
          { type: ConditionType.Ready, status: false, reason: CleanupRegistryReason.InvalidSpec, message },
          {
            type: CleanupConditionType.RegistryReady,
            status: false,
            reason: CleanupRegistryReason.InvalidSpec,
            message,
          },
        ],
      });
      return { result: 'invalid' };
    }
    const policy = parsed.data;
    const spec = policy.spec;
    const registry = this.registryState(policy);

    // GitLab: saving a changed policy starts the interval again; otherwise the next run stays where it was.
    const specChanged = status.observedGeneration !== raw.metadata.generation;
    const scheduled = spec.enabled && !spec.suspend;
    let nextRun = scheduled
      ? specChanged || status.nextRun === undefined
        ? nextRunAfter(spec, now)
        : new Date(status.nextRun)
      : undefined;
    const request = raw.metadata.annotations?.[runAnnotation];
    const newRequest = request !== undefined && request !== '' && request !== status.lastRun?.request;
    const interrupted = status.operation;
    const due =
      spec.enabled &&
      (newRequest ||
        interrupted !== undefined ||
        (nextRun !== undefined && nextRun.getTime() <= now.getTime()));
    const canRun =
      registry.ready || (spec.dryRun && registry.reason === CleanupRegistryReason.DeleteDisabled);
    const conditions = (extra: ConditionInput[] = []): ConditionInput[] => [
      {
        type: ConditionType.Ready,
        status: spec.enabled && canRun,
        reason: spec.enabled ? registry.reason : CleanupRegistryReason.Disabled,
        message: spec.enabled ? registry.message : 'spec.enabled is false: the policy does nothing',
      },
      {
        type: CleanupConditionType.RegistryReady,
        status: registry.ready,
        reason: registry.reason,
        message: registry.message,
      },
      ...extra,
    ];

    if (!due || !canRun) {
      await this.writeStatus(raw, now, {
        conditions: conditions(status.lastRun === undefined ? [noRunYet()] : []),
        ...(nextRun !== undefined ? { nextRun: kubeTime(nextRun) } : {}),
      });
      if (due) return { requeueAfterMs: 60_000, result: 'waiting' }; // the registry is not ready yet
      return requeueUntil(nextRun, now);
    }

    // --- a run: persisted first, so an operator restarted meanwhile runs it again
    const trigger: NonNullable<CleanupRun['trigger']> =
      interrupted?.trigger ?? (newRequest ? 'OnDemand' : 'Schedule');
    const id = interrupted?.id ?? runId(now);
    const startTime = interrupted?.startTime ?? kubeTime(now);
    const acknowledged = newRequest ? request : (interrupted?.request ?? status.lastRun?.request);
    const operation = {
      id,
      phase: 'Running',
      startTime,
      trigger,
      ...(acknowledged !== undefined ? { request: acknowledged } : {}),
    };
    // Only if the policy is still as this decision read it (409 otherwise, and the queue retries): the
    // informer may not have seen the status a run just wrote at its end, and from that stale copy the same
    // request looks new, or the finished run interrupted, and would run again.
    await this.writeStatus(
      raw,
      now,
      {
        conditions: conditions([
          {
            type: ConditionType.Progressing,
            status: true,
            reason: CleanupRunReason.Running,
            message: `run ${id}`,
          },
        ]),
        operation,
        ...(nextRun !== undefined ? { nextRun: kubeTime(nextRun) } : {}),
      },
      { precondition: true },
    );
    logger.info({ run: id, trigger, dryRun: spec.dryRun, resumed: interrupted !== undefined }, 'cleanup run');
    await this.event(
      raw,
      false,
      'CleanupStarted',
      `${id} (${trigger})${spec.dryRun ? ': dry run' : ''}`,
      logger,
    );

    const deadline = new Date(Date.parse(startTime) + parseDuration(spec.timeout));
    let report: RunReport | undefined;
    let failure: string | undefined;
    try {
      report = await this.execute(policy, registry.registry as ContainerRegistry, now, deadline);
    } catch (err) {
      failure = describeError(err);
    }
    if (this.stopping.signal.aborted) return {}; // the next leader runs it again (status.operation stays)
    const done = new Date();
    if (report !== undefined) {
      await this.client.apply(reportConfigMap(raw, id, report, reportLabels(policy)));
    }
    const succeeded = report !== undefined && report.errors === 0;
    const summary = report !== undefined ? (reportText(id, report).split('\n')[0] ?? '') : '';
    const lastRun: CleanupRun = {
      id,
      trigger,
      ...(acknowledged !== undefined ? { request: acknowledged } : {}),
      ...(report !== undefined ? { report: reportName(raw.metadata.name) } : {}),
      startTime,
      completionTime: kubeTime(done),
      result: succeeded ? 'Succeeded' : 'Failed',
      dryRun: spec.dryRun,
      ...(report !== undefined
        ? {
            repositories: report.repositories.length,
            tagsDeleted: report.tagsDeleted,
            tagsKept: report.tagsKept,
            tagsInUse: report.tagsInUse,
          }
        : {}),
      truncated: report?.truncated ?? false,
      message: failure ?? summary,
    };
    if (trigger === 'Schedule' && scheduled) nextRun = nextRunAfter(spec, new Date(startTime));
    await this.writeStatus(raw, done, {
      conditions: conditions([
        {
          type: ConditionType.Progressing,
          status: false,
          reason: CleanupRunReason.Idle,
          message: 'no run is under way',
        },
        {
          type: CleanupConditionType.LastRunSucceeded,
          status: succeeded,
          reason: succeeded ? CleanupRunReason.Succeeded : CleanupRunReason.Failed,
          message: `${id}: ${lastRun.message ?? ''}`,
        },
      ]),
      lastRun,
      ...(nextRun !== undefined ? { nextRun: kubeTime(nextRun) } : {}),
    });
    await this.event(
      raw,
      !succeeded,
      succeeded ? 'CleanupSucceeded' : 'CleanupFailed',
      `${id}: ${lastRun.message ?? ''}`,
      logger,
    );
    return requeueUntil(nextRun, done);
  }

  /** Whether the policy's registry can be cleaned up, and why not. */
  private registryState(policy: CleanupPolicy): RegistryState {
    const name = policy.spec.registryRef.name;
    const raw = this.registries.get(`${policy.metadata.namespace}/${name}`) as RegistryObject | undefined;
    if (raw === undefined) {
      return {
        ready: false,
        reason: CleanupRegistryReason.RegistryNotFound,
        message: `no ContainerRegistry ${name} in namespace ${policy.metadata.namespace}`,
      };
    }
    const parsed = parseRegistry(raw);
    if (!parsed.success) {
      return {
        ready: false,
        reason: CleanupRegistryReason.RegistryNotReady,
        message: `ContainerRegistry ${name} has an invalid spec`,
      };
    }
    const ready = (raw.status?.conditions as Condition[] | undefined)?.find(
      (c) => c.type === ConditionType.Ready,
    );
    if (ready?.status !== 'True') {
      return {
        ready: false,
        reason: CleanupRegistryReason.RegistryNotReady,
        message: `ContainerRegistry ${name} is not Ready${ready?.message ? `: ${ready.message}` : ''}`,
        registry: parsed.data,
      };
    }
    if (!parsed.data.spec.storage.delete) {
      return {
        ready: false,
        reason: CleanupRegistryReason.DeleteDisabled,
        message: `ContainerRegistry ${name} has spec.storage.delete false: tags cannot be deleted (dry runs still work)`,
        registry: parsed.data,
      };
    }
    return {
      ready: true,
      reason: CleanupRegistryReason.Ready,
      message: `ContainerRegistry ${name} is Ready`,
      registry: parsed.data,
    };
  }

  private async execute(
    policy: CleanupPolicy,
    cr: ContainerRegistry,
    now: Date,
    deadline: Date,
  ): Promise<RunReport> {
    const ref = { namespace: cr.metadata.namespace, name: cr.metadata.name };
    const sign = await registryTokenSigner(this.client, ref);
    // One token per scope, reused for a few minutes (a run may delete thousands of tags).
    const tokens = new Map<string, { token: string; until: number }>();
    const tokenFor = async (access: AccessRequest) => {
      const scope = `${access.type}:${access.name}:${access.actions.join(',')}`;
      const cached = tokens.get(scope);
      if (cached !== undefined && cached.until > Date.now()) return cached.token;
      const token = await sign([access], 300);
      tokens.set(scope, { token, until: Date.now() + 240_000 });
      return token;
    };
    const inUse = imagesInUse(await this.pods(), registryHosts(cr));
    const registry = new RegistryClient({
      baseUrl: this.opts.registryUrl?.(ref) ?? registryServiceUrl(ref),
      tokenFor,
      signal: this.stopping.signal,
    });
    return runCleanup({ registry, spec: policy.spec, inUse, now, deadline });
  }

  /** Every Pod the operator may see (all namespaces, or each watched one). A failure fails the run. */
  private async pods(): Promise<PodImages[]> {
    const namespaces = this.opts.watchNamespaces ?? [];
    if (namespaces.length === 0) return (await this.client.list<KubeObject & PodImages>('v1', 'Pod')).items;
    const lists = await Promise.all(
      namespaces.map((namespace) => this.client.list<KubeObject & PodImages>('v1', 'Pod', { namespace })),
    );
    return lists.flatMap((l) => l.items);
  }

  private async writeStatus(
    raw: PolicyObject,
    now: Date,
    fields: { conditions: ConditionInput[] } & Record<string, unknown>,
    opts: { precondition?: boolean } = {},
  ) {
    const { conditions: inputs, ...rest } = fields;
    const types = new Set(inputs.map((c) => c.type));
    const mine = (raw.status?.conditions ?? []).filter((c) => types.has(c.type));
    const conditions = setConditions(mine, inputs, raw.metadata.generation, now);
    const status: Record<string, unknown> = {
      observedGeneration: raw.metadata.generation,
      conditions: [...(raw.status?.conditions ?? []).filter((c) => !types.has(c.type)), ...conditions],
      ...(raw.status?.lastRun !== undefined && rest['lastRun'] === undefined
        ? { lastRun: raw.status.lastRun }
        : {}),
      ...rest,
    };
    const dropping = rest['operation'] === undefined && raw.status?.operation !== undefined;
    if (!dropping && statusUpToDate(raw.status, status)) return;
    await applyStatusAs(this.client, raw, status, cleanupFieldManager, opts);
  }

  private async event(raw: PolicyObject, warning: boolean, reason: string, message: string, logger: Logger) {
    await recordEvent(this.client, raw, { warning, reason, message }).catch((err: unknown) =>
      logger.warn({ err }, 'could not record an Event'),
    );
  }
}

function noRunYet(): ConditionInput {
  return {
    type: CleanupConditionType.LastRunSucceeded,
    status: 'Unknown',
    reason: CleanupRunReason.NoRunYet,
    message: 'the policy has not run yet',
  };
}

function requeueUntil(when: Date | undefined, now: Date): ReconcileResult {
  if (when === undefined) return {};
  return { requeueAfterMs: Math.min(maxRequeueMs, Math.max(1_000, when.getTime() - now.getTime() + 500)) };
}

/** Names Pods may pull the registry's images by: its Ingress host and its Service's DNS names. */
export function registryHosts(cr: ContainerRegistry): string[] {
  const service = childNames(cr.metadata.name).registry;
  const ns = cr.metadata.namespace;
  const port = String(ports.registry);
  const hosts = [
    service,
    `${service}.${ns}`,
    `${service}.${ns}.svc`,
    `${service}.${ns}.svc.cluster.local`,
  ].map((h) => `${h}:${port}`);
  if (cr.spec.ingress.enabled && cr.spec.ingress.host !== undefined) {
    hosts.push(cr.spec.ingress.host, `${cr.spec.ingress.host}:443`);
  }
  return hosts;
}

function reportLabels(policy: CleanupPolicy): Record<string, string> {
  return { [labelKeys.managedBy]: managedBy, 'berth.dev/cleanup-policy': policy.metadata.name };
}

/** Registers the CleanupPolicy controller (its registry informer is shared with the registry controller's). */
export function setupCleanupPolicyController(manager: Manager, opts: CleanupControllerOptions = {}) {
  const policies = manager.informer<KubeObject>({ apiVersion: 'berth.dev/v1alpha1', kind: 'CleanupPolicy' });
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const controller = new CleanupPolicyController(manager.client, { policies, registries }, opts);
  manager.addController({
    name: 'cleanuppolicy',
    primary: policies,
    related: [
      {
        // A registry that becomes Ready (or changes) concerns the policies that name it.
        informer: registries,
        map: (registry) =>
          policies
            .list()
            .filter(
              (p) =>
                p.metadata.namespace === registry.metadata.namespace &&
                (p as { spec?: { registryRef?: { name?: string } } }).spec?.registryRef?.name ===
                  registry.metadata.name,
            )
            .map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`),
      },
    ],
    reconcile: (key, { logger }) => controller.reconcile(key, logger),
    concurrency: opts.concurrency ?? 2,
  });
  return controller;
}
