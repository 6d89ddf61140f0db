// The garbage-collection controller: a controller of its own on ContainerRegistry objects (and the Jobs they
// own) that runs the state machine of state.ts. Each reconcile observes (the CR, its trigger annotation, the
// schedule and windows, the fleet's mode while switching, the collector Job), computes the next state,
// PERSISTS it in status.operation, and only then acts (creates or deletes the Job, records Events). It runs
// only while this replica leads (the manager starts controllers on leadership), so the cron schedule is
// evaluated by one replica, and a run in status.operation is never started twice.
//
// Status is written by server-side apply under a field manager of its own (berth-operator-gc): the registry
// reconciler's status apply (berth-operator) owns other fields, so neither removes the other's; dropping
// `operation` from this controller's apply removes it.
import type { Logger } from 'pino';
import { parseDuration } from '../../../registry/config/schema.ts';
import { RegistryConditionType, selectedStorage, type ContainerRegistry } from '../../api/index.ts';
import { dataClaimName } from '../../render/children/data-claim.ts';
import { childNames } from '../../render/names.ts';
import { statusUpToDate } from '../../runtime/conditions.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { isApiError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Manager } from '../../runtime/manager.ts';
import { parseRegistry, type RegistryObject } from '../../reconcile/registry-api.ts';
import { recordEvent } from '../events.ts';
import { addOperationController, type OperationCaches } from '../operation-controller.ts';
import { applyStatusAs, operationConditions } from '../status-apply.ts';
import { nudgePods, probeFleet, releaseReadOnly } from './fleet.ts';
import { finishedJobPods } from '../pod-template-job.ts';
import { collectorJob, jobObjectName, observeJob, type JobObject } from './job.ts';
import { msToNextRun, scheduleDue, windowOpen } from './schedule.ts';
import {
  defaultLimits,
  next,
  operationType,
  type Action,
  type GcOperation,
  type GcRecord,
  type Limits,
  type Observed,
  type Step,
  since,
} from './state.ts';

/** Any new value starts a run (the value is acknowledged in status.lastGarbageCollection.request). */
export const garbageCollectAnnotation = 'berth.dev/garbage-collect';
export const gcFieldManager = 'berth-operator-gc';

export interface GarbageCollectionOptions {
  limits?: Partial<Limits>;
  concurrency?: number;
}

function asOperation(v: unknown): GcOperation | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  return (v as { type?: unknown }).type === operationType ? (v as GcOperation) : undefined;
}

export class GarbageCollectionController {
  private readonly client: KubeClient;
  private readonly registries: OperationCaches['registries'];
  private readonly deployments: OperationCaches['deployments'];
  private readonly jobs: OperationCaches['jobs'];
  private readonly limits: Limits;

  constructor(client: KubeClient, caches: OperationCaches, opts: GarbageCollectionOptions = {}) {
    this.client = client;
    this.registries = caches.registries;
    this.deployments = caches.deployments;
    this.jobs = caches.jobs;
    this.limits = { ...defaultLimits, ...opts.limits };
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.registries.get(key) as RegistryObject | undefined;
    if (raw === undefined) return {};
    const parsed = parseRegistry(raw);
    const current = asOperation(raw.status?.operation);
    if (!parsed.success) {
      // An invalid spec starts nothing; a run under way goes on to unwind (its generation no longer matches).
      if (current === undefined) return {};
    }
    const cr = parsed.success ? parsed.data : undefined;
    const observed = await this.observe(raw, cr, current, logger);
    const step = next(current, observed, this.limits);
    await this.persist(raw, step, observed.now);
    for (const action of step.actions) await this.act(raw, cr, action, logger);
    if (step.operation?.phase !== current?.phase) {
      logger.info(
        {
          from: current?.phase ?? 'none',
          to: step.operation?.phase ?? 'none',
          run: step.operation?.id ?? current?.id,
        },
        'garbage collection',
      );
    }
    const schedule = cr?.spec.garbageCollection.schedule;
    const waits = [step.requeueAfterMs, msToNextRun(schedule, observed.now)];
    if (step.collecting.reason === 'Waiting') waits.push(60_000);
    const requeueAfterMs = Math.min(...waits.filter((w): w is number => w !== undefined));
    return Number.isFinite(requeueAfterMs) ? { requeueAfterMs } : {};
  }

  private async observe(
    raw: RegistryObject,
    cr: ContainerRegistry | undefined,
    current: GcOperation | undefined,
    logger: Logger,
  ): Promise<Observed> {
    const now = new Date();
    const status = raw.status ?? {};
    const last = status.lastGarbageCollection as GcRecord | undefined;
    const other = status.operation as { type?: string } | undefined;
    const gc = cr?.spec.garbageCollection;
    const lastStart = current?.startTime ?? last?.startTime;
    const observed: Observed = {
      now,
      generation: raw.metadata.generation ?? 0,
      deleting: raw.metadata.deletionTimestamp !== undefined,
      spec: {
        deleteUntagged: gc?.deleteUntagged ?? current?.deleteUntagged ?? false,
        dryRun: gc?.dryRun ?? current?.dryRun ?? false,
        suspend: gc?.suspend ?? false,
        timeoutSeconds:
          gc !== undefined ? Math.round(parseDurationSeconds(gc.timeout)) : (current?.timeoutSeconds ?? 3600),
        // An invalid spec still says whether the registry should stay read-only when a run ends.
        readOnly: cr?.spec.readOnly ?? (raw.spec as { readOnly?: unknown } | undefined)?.readOnly === true,
      },
      ...(raw.metadata.annotations?.[garbageCollectAnnotation] !== undefined
        ? { request: raw.metadata.annotations[garbageCollectAnnotation] }
        : {}),
      ...(last !== undefined ? { last } : {}),
      scheduleDue: scheduleDue(gc?.schedule, lastStart !== undefined ? new Date(lastStart) : undefined, now),
      windowOpen: windowOpen(cr?.spec.maintenanceWindows, now),
      ...(other?.type !== undefined && other.type !== operationType ? { otherOperation: other.type } : {}),
      fleet: [],
    };
    if (current === undefined) return observed;
    const ref = { namespace: raw.metadata.namespace ?? '', name: raw.metadata.name };
    if (!current.dryRun && current.phase !== 'Collecting') {
      const readOnly = current.phase === 'EnteringReadOnly' || observed.spec.readOnly;
      if (
        !readOnly &&
        (cr === undefined || since(current.phaseStartTime, now) > this.limits.releaseAfterMs)
      ) {
        // The registry reconciler renders nothing while the spec is invalid (or is late): clear the flag here.
        if (await releaseReadOnly(this.client, ref)) {
          logger.warn({ run: current.id }, 'cleared the read-only flag in the stored config directly');
        }
      }
      observed.fleet = await probeFleet(this.client, ref);
      const marker = `${current.id}-${readOnly ? 'read-only' : 'read-write'}`;
      await nudgePods(this.client, ref, observed.fleet, readOnly, marker).catch((err: unknown) =>
        logger.warn({ err }, 'could not annotate the registry pods to refresh their config'),
      );
    }
    if (current.phase !== 'EnteringReadOnly') {
      const name = jobObjectName(ref.name, current.jobName);
      const job = this.jobs.get(`${ref.namespace}/${name}`) as JobObject | undefined;
      if (job !== undefined) observed.job = observeJob(job, await finishedJobPods(this.client, job));
    }
    return observed;
  }

  private async persist(raw: RegistryObject, step: Step, now: Date): Promise<void> {
    const conditions = operationConditions(
      raw,
      [
        { type: RegistryConditionType.GarbageCollecting, ...step.collecting },
        ...(step.readOnly !== undefined ? [{ type: RegistryConditionType.ReadOnly, ...step.readOnly }] : []),
      ],
      now,
    );
    const status: Record<string, unknown> = {
      conditions,
      ...(step.readOnly !== undefined ? { readOnly: step.readOnly.status } : {}),
      ...(step.operation !== undefined ? { operation: step.operation } : {}),
      ...(step.last !== undefined ? { lastGarbageCollection: step.last } : {}),
    };
    const dropping = step.operation === undefined && asOperation(raw.status?.operation) !== undefined;
    if (!dropping && statusUpToDate(raw.status, status)) return;
    const starting = step.operation !== undefined && asOperation(raw.status?.operation) === undefined;
    await applyStatusAs(this.client, raw, status, gcFieldManager, { precondition: starting });
  }

  private async act(raw: RegistryObject, cr: ContainerRegistry | undefined, action: Action, logger: Logger) {
    const namespace = raw.metadata.namespace;
    switch (action.type) {
      case 'createJob': {
        if (cr === undefined) return;
        const deployment = this.deployments.get(
          `${namespace ?? ''}/${childNames(cr.metadata.name).registry}`,
        );
        if (deployment === undefined) {
          logger.warn('no registry Deployment to model the collector on yet');
          return;
        }
        const storage = selectedStorage(cr.spec.storage);
        const rwo =
          dataClaimName(cr) !== undefined &&
          !(storage.driver === 'filesystem' && storage.config.accessMode === 'ReadWriteMany');
        const job = collectorJob({
          registry: raw,
          deployment,
          name: jobObjectName(cr.metadata.name, action.jobName),
          dryRun: action.dryRun,
          deleteUntagged: action.deleteUntagged,
          timeoutSeconds: action.timeoutSeconds,
          sameNodeAsRegistry: rwo,
        });
        try {
          await this.client.create(job);
          logger.info({ job: job.metadata.name }, 'collector Job created');
        } catch (err) {
          if (!(isApiError(err) && err.status === 409)) throw err;
        }
        return;
      }
      case 'deleteJob': {
        const name = cr !== undefined ? jobObjectName(cr.metadata.name, action.jobName) : undefined;
        if (name === undefined) return;
        await this.client.delete(
          { apiVersion: 'batch/v1', kind: 'Job', namespace, name },
          { propagationPolicy: 'Background' },
        );
        return;
      }
      case 'event':
        await recordEvent(this.client, raw, action).catch((err: unknown) =>
          logger.warn({ err }, 'could not record an Event'),
        );
        return;
    }
  }
}

const parseDurationSeconds = (d: string): number => parseDuration(d) / 1000;

/** Registers the garbage-collection controller (its informers are shared with the registry controller's). */
export function setupGarbageCollectionController(manager: Manager, opts: GarbageCollectionOptions = {}) {
  return addOperationController(
    manager,
    'garbagecollection',
    (client, caches) => new GarbageCollectionController(client, caches, opts),
    opts.concurrency,
  );
}
