// The storage-migration controller: a controller of its own on ContainerRegistry objects (and the Jobs they
// own) that runs the state machine of state.ts, in the shape of the garbage collection's. Each reconcile
// observes (the CR, status.storage, the fleet's mode and which storage its pods run, the migration Job),
// computes the next state, PERSISTS it (status.operation, status.lastMigration, status.storage) and only then
// acts (writes the target config, creates or deletes a Job, records Events). Leader only (the manager starts
// controllers on leadership), so a migration is never run twice.
//
// The registry reconciler renders what this persists (operator/reconcile/served-registry.ts): the source's
// storage until Switching, read-only from EnteringReadOnly to LeavingReadOnly, and the target's generated claim
// ahead of the Jobs. Status is applied under a field manager of its own (berth-operator-migration).
import type { Logger } from 'pino';
import { parseDuration } from '../../../registry/config/schema.ts';
import {
  RegistryConditionType,
  storageSchema,
  type ContainerRegistry,
  type StorageSpec,
} from '../../api/index.ts';
import { annotationKeys, childNames, labelKeys, managedBy } from '../../render/names.ts';
import { statusUpToDate } from '../../runtime/conditions.ts';
import type { ReconcileResult } from '../../runtime/controller.ts';
import { isApiError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { Manager } from '../../runtime/manager.ts';
import { controllerReference, type KubeObject } from '../../runtime/objects.ts';
import { parseRegistry, type RegistryObject } from '../../reconcile/registry-api.ts';
import { recordEvent } from '../events.ts';
import { listRegistryPods, nudgePods, probeFleet, releaseReadOnly } from '../garbage-collection/fleet.ts';
import { windowOpen } from '../garbage-collection/schedule.ts';
import { sameLocation } from '../../render/storage-location.ts';
import { addOperationController, type OperationCaches } from '../operation-controller.ts';
import { applyStatusAs, operationConditions } from '../status-apply.ts';
import { jobObjectName, migrationJob, observeMigrationJob } from './job.ts';
import { finishedJobPods, type JobObject, type PodObject } from '../pod-template-job.ts';
import {
  defaultLimits,
  migrateAnnotation,
  next,
  operationType,
  type Action,
  type Limits,
  type MigrationOperation,
  type MigrationRecord,
  type Observed,
  type Step,
} from './state.ts';
import { renderMigrationTargetConfig, targetConfigKey } from './target-config.ts';

export const migrationFieldManager = 'berth-operator-migration';

export interface StorageMigrationOptions {
  limits?: Partial<Limits>;
  concurrency?: number;
}

function asOperation(v: unknown): MigrationOperation | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  return (v as { type?: unknown }).type === operationType ? (v as MigrationOperation) : undefined;
}

/** The ConfigMap holding a run's migrate-target.yml (owned by the registry, rewritten for each Job). */
export const targetConfigMapName = (registry: string) => `${registry}-migrate-target`;

/** Phases in which the fleet's mode or storage is watched. */
const fleetPhases = new Set([
  'EnteringReadOnly',
  'FinalSync',
  'Switching',
  'SwitchingBack',
  'LeavingReadOnly',
]);

export class StorageMigrationController {
  private readonly client: KubeClient;
  private readonly registries: OperationCaches['registries'];
  private readonly deployments: OperationCaches['deployments'];
  private readonly jobs: OperationCaches['jobs'];
  private readonly limits: Limits;

  constructor(client: KubeClient, caches: OperationCaches, opts: StorageMigrationOptions = {}) {
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
    // An invalid spec starts nothing; a run under way pauses or unwinds (state.ts reads storage undefined).
    if (!parsed.success && current === undefined) return {};
    const cr = parsed.success ? parsed.data : undefined;
    const observed = await this.observe(raw, cr, current, logger);
    const step = next(current, observed, this.limits);
    await this.persist(raw, current, step, observed.now);
    for (const action of step.actions) await this.act(raw, cr, step.operation ?? current, action, logger);
    if (step.operation?.phase !== current?.phase) {
      logger.info(
        {
          from: current?.phase ?? 'none',
          to: step.operation?.phase ?? 'none',
          run: step.operation?.id ?? current?.id,
          message: step.migrating.message,
        },
        'storage migration',
      );
    }
    return step.requeueAfterMs !== undefined ? { requeueAfterMs: step.requeueAfterMs } : {};
  }

  private async observe(
    raw: RegistryObject,
    cr: ContainerRegistry | undefined,
    current: MigrationOperation | undefined,
    logger: Logger,
  ): Promise<Observed> {
    const now = new Date();
    const status = raw.status ?? {};
    const other = status.operation as { type?: string } | undefined;
    const served = storageSchema.safeParse(status['storage']);
    const request = raw.metadata.annotations?.[migrateAnnotation];
    const observed: Observed = {
      now,
      generation: raw.metadata.generation ?? 0,
      deleting: raw.metadata.deletionTimestamp !== undefined,
      storage: cr?.spec.storage,
      served: served.success ? served.data : undefined,
      spec: {
        // An invalid spec still says whether the registry should stay read-only when a run ends.
        readOnly: cr?.spec.readOnly ?? (raw.spec as { readOnly?: unknown } | undefined)?.readOnly === true,
        readOnlyBudgetSeconds: budgetSeconds(cr?.spec.storage),
        // Berth never deletes the source: there is no field asking for it (see the CRD's storage text).
        deleteSourceAfterMigration: false,
      },
      ...(request !== undefined ? { request } : {}),
      ...(status['lastMigration'] !== undefined ? { last: status['lastMigration'] as MigrationRecord } : {}),
      windowOpen: windowOpen(cr?.spec.maintenanceWindows, now),
      ...(other?.type !== undefined && other.type !== operationType ? { otherOperation: other.type } : {}),
      fleet: [],
      fleetOnTarget: false,
      fleetOnSource: false,
    };
    if (current === undefined) {
      const spec = observed.storage;
      const moving =
        spec !== undefined && observed.served !== undefined && !sameLocation(spec, observed.served);
      if (moving) {
        const problem = await credentialsProblem(this.client, raw.metadata.namespace ?? '', spec);
        if (problem !== undefined) observed.targetProblem = problem;
      }
      return observed;
    }
    const ref = { namespace: raw.metadata.namespace ?? '', name: raw.metadata.name };
    if (fleetPhases.has(current.phase)) {
      if (current.phase === 'LeavingReadOnly' && !observed.spec.readOnly && cr === undefined) {
        // The registry reconciler renders nothing while the spec is invalid: clear the flag here.
        if (await releaseReadOnly(this.client, ref)) {
          logger.warn({ run: current.id }, 'cleared the read-only flag in the stored config directly');
        }
      }
      const pods = (await listRegistryPods(this.client, ref)).filter(
        // Pending ones count: they will serve what their template says.
        (p) => p.metadata.deletionTimestamp === undefined && p.status?.phase !== 'Failed',
      );
      observed.fleetOnTarget = runsOnly(pods, current.target.hash);
      observed.fleetOnSource = runsOnly(pods, current.source.hash);
      observed.fleet = await probeFleet(this.client, ref);
      const readOnly = current.phase !== 'LeavingReadOnly' || observed.spec.readOnly;
      const marker = `${current.id}-${readOnly ? 'read-only' : 'read-write'}`;
      await nudgePods(this.client, ref, observed.fleet, readOnly, marker).catch((err: unknown) =>
        logger.warn({ err }, 'could not annotate the registry pods to refresh their config'),
      );
    }
    if (current.jobName !== undefined) {
      const name = jobObjectName(ref.name, current.jobName);
      const job = this.jobs.get(`${ref.namespace}/${name}`) as JobObject | undefined;
      if (job !== undefined) observed.job = observeMigrationJob(job, await finishedJobPods(this.client, job));
    }
    return observed;
  }

  private async persist(
    raw: RegistryObject,
    current: MigrationOperation | undefined,
    step: Step,
    now: Date,
  ): Promise<void> {
    const conditions = operationConditions(
      raw,
      [
        { type: RegistryConditionType.Migrating, ...step.migrating },
        ...(step.readOnly !== undefined ? [{ type: RegistryConditionType.ReadOnly, ...step.readOnly }] : []),
      ],
      now,
    );
    const status: Record<string, unknown> = {
      conditions,
      ...(step.readOnly !== undefined ? { readOnly: step.readOnly.status } : {}),
      ...(step.operation !== undefined ? { operation: step.operation } : {}),
      ...(step.last !== undefined ? { lastMigration: step.last } : {}),
      // Unparsable spec: leave what is recorded (it is what the pods serve).
      storage: step.storage ?? raw.status?.['storage'],
    };
    if (status['storage'] === undefined) delete status['storage'];
    const dropping = step.operation === undefined && current !== undefined;
    if (!dropping && statusUpToDate(raw.status, status)) return;
    const starting = step.operation !== undefined && current === undefined;
    await applyStatusAs(this.client, raw, status, migrationFieldManager, { precondition: starting });
  }

  private async act(
    raw: RegistryObject,
    cr: ContainerRegistry | undefined,
    op: MigrationOperation | undefined,
    action: Action,
    logger: Logger,
  ): Promise<void> {
    const namespace = raw.metadata.namespace ?? '';
    switch (action.type) {
      case 'createJob': {
        if (cr === undefined || op === undefined) return;
        const deployment = this.deployments.get(`${namespace}/${childNames(cr.metadata.name).registry}`);
        if (deployment === undefined) {
          logger.warn('no registry Deployment to model the migration Job on yet');
          return;
        }
        await this.writeTargetConfig(raw, cr, op.target.storage, op.id);
        const job = migrationJob({
          registry: raw,
          deployment,
          name: jobObjectName(cr.metadata.name, action.jobName),
          source: op.source.storage,
          target: op.target.storage,
          deleteExtra: action.deleteExtra,
          timeoutSeconds: action.timeoutSeconds,
          targetConfigMap: targetConfigMapName(cr.metadata.name),
        });
        try {
          await this.client.create(job);
          logger.info({ job: job.metadata.name, pass: action.pass }, 'migration Job created');
        } catch (err) {
          if (!(isApiError(err) && err.status === 409)) throw err;
        }
        return;
      }
      case 'deleteJob':
        await this.client.delete(
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            namespace,
            name: jobObjectName(raw.metadata.name, action.jobName),
          },
          { propagationPolicy: 'Background' },
        );
        return;
      case 'deleteSource':
        // Never asked for (deleteSourceAfterMigration is always false): Berth keeps the source.
        logger.warn({ source: action.source.description }, 'not deleting the migration source');
        return;
      case 'event':
        await recordEvent(this.client, raw, action).catch((err: unknown) =>
          logger.warn({ err }, 'could not record an Event'),
        );
        return;
    }
  }

  /** migrate-target.yml for this run, in a ConfigMap of its own (the registry's is the reconciler's). */
  private async writeTargetConfig(
    raw: RegistryObject,
    cr: ContainerRegistry,
    target: StorageSpec,
    id: string,
  ): Promise<void> {
    const name = cr.metadata.name;
    await this.client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: targetConfigMapName(name),
        namespace: cr.metadata.namespace,
        labels: {
          [labelKeys.managedBy]: managedBy,
          [labelKeys.registry]: name,
          [labelKeys.instance]: name,
        },
        // Owned, so it goes with the registry, but not controlled: the registry reconciler prunes the children
        // it controls and does not render, and would delete it under the Job.
        ownerReferences: [{ ...controllerReference(raw), controller: false }],
      },
      data: { [targetConfigKey]: renderMigrationTargetConfig(cr, target, id) },
    } as KubeObject);
  }
}

/** Why a storage section's credentials cannot be read (its Secret or a key is missing); undefined: they can. */
async function credentialsProblem(
  client: KubeClient,
  namespace: string,
  storage: StorageSpec,
): Promise<string | undefined> {
  const s3 = storage.s3?.credentialsSecretRef;
  const gcs = storage.gcs?.credentialsSecretRef;
  const azure = storage.azure?.credentialsSecretRef;
  const ref =
    s3 !== undefined
      ? { name: s3.name, keys: [s3.accessKeyIdKey, s3.secretAccessKeyKey] }
      : gcs !== undefined
        ? { name: gcs.name, keys: [gcs.key] }
        : azure !== undefined
          ? { name: azure.name, keys: [azure.accountKeyKey] }
          : undefined;
  if (ref === undefined) return undefined;
  const secret = await client.get<KubeObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace,
    name: ref.name,
  });
  if (secret === undefined) return `its credentials Secret ${ref.name} does not exist`;
  const missing = ref.keys.filter((k) => secret.data?.[k] === undefined);
  return missing.length > 0
    ? `its credentials Secret ${ref.name} has no key ${missing.join(', ')}`
    : undefined;
}

/** Seconds of spec.storage.migration.readOnlyBudget (its default when the spec does not parse). */
function budgetSeconds(storage: StorageSpec | undefined): number {
  return Math.round(parseDuration(storage?.migration.readOnlyBudget ?? '10m') / 1000);
}

/** Whether there are registry pods and every one runs a template rendered for the storage location `hash`. */
function runsOnly(pods: readonly PodObject[], hash: string): boolean {
  return (
    pods.length > 0 &&
    pods.every(
      (p) =>
        p.status?.phase === 'Running' && p.metadata.annotations?.[annotationKeys.storageLocation] === hash,
    )
  );
}

/** Registers the storage-migration controller (its informers are shared with the other controllers'). */
export function setupStorageMigrationController(manager: Manager, opts: StorageMigrationOptions = {}) {
  return addOperationController(
    manager,
    'storagemigration',
    (client, caches) => new StorageMigrationController(client, caches, opts),
    opts.concurrency,
  );
}
