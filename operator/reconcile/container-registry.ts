// Reconciling a ContainerRegistry (level-triggered: the key is all a run gets; it reads the current state):
//
//  1. Parse the object with the API's zod schemas. An invalid spec is reported as Ready=False/InvalidSpec with
//     the offending fields named, and nothing is retried until the object changes (no hot loop).
//  2. Observe what render needs (observe.ts): the generated key material (key-material.ts: created exactly
//     once), the access-token Secrets the selector picks, and the user Secrets the pods reference.
//  3. Render the children (operator/render, pure) of the registry as it is served now (served-registry.ts: the
//     storage a migration has the data on, read-only while an operation needs it) and apply them (runtime/apply.ts: server-side apply under the
//     `berth-operator` field manager, unchanged children not sent again).
//  4. Delete children this registry owns that are no longer rendered (runtime/prune.ts). PersistentVolumeClaims
//     are never deleted here.
//  5. Write status (registry-status.ts, pure) through the status subresource, only when it changed.
//
// API errors: transient ones (no answer, 5xx, 429, conflicts) are thrown, so the queue retries with backoff;
// a child the API server refuses (422 Invalid, 403 Forbidden, ...) is reported in the status and retried
// slowly, since retrying the same request at once cannot help.
import type { Logger } from 'pino';
import { ConfigRenderError } from '../render/config.ts';
import { MaterialError, type GeneratedMaterial } from '../render/material.ts';
import { childNames, labelKeys } from '../render/names.ts';
import { renderRegistry, type RenderOutput } from '../render/registry.ts';
import { ChildApplier, type CacheOfKind } from '../runtime/apply.ts';
import { writeStatus } from '../runtime/conditions.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { describeError } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { OperatorMetrics } from '../runtime/metrics.ts';
import { splitKey, type Condition, type KubeObject } from '../runtime/objects.ts';
import { pruneChildren } from '../runtime/prune.ts';
import { KeyMaterial } from './key-material.ts';
import {
  observeChildren,
  observeInputs,
  type ContainerRegistryCaches,
  type ObservedInputs,
} from './observe.ts';
import {
  parseRegistry,
  RegistryBlockedReason as Blocked,
  RegistryProblemReason,
  type ContainerRegistry,
  type RegistryObject,
} from './registry-api.ts';
import { applyStages, prunableKinds } from './registry-children.ts';
import { servedRegistry, type ServedRegistry } from './served-registry.ts';
import { blockedStatus, registryStatus, type Blocker, type Problem } from './registry-status.ts';

export interface ContainerRegistryControllerOptions {
  /** Image of registry and issuer pods when spec.image is unset. */
  defaultImage: string;
  concurrency?: number;
  /** How soon to look again after a child was refused by the API server (default 5 min). */
  refusedRetryMs?: number;
}

/** A step's value, or the end of the reconcile with what to tell the queue. */
type Step<T> = { done: false; value: T } | { done: true; result: ReconcileResult };

export class ContainerRegistryReconciler {
  private readonly client: KubeClient;
  private readonly caches: ContainerRegistryCaches;
  private readonly opts: ContainerRegistryControllerOptions;
  private readonly cacheOf: CacheOfKind;
  private readonly applier: ChildApplier;
  private readonly keyMaterial: KeyMaterial;

  constructor(
    client: KubeClient,
    caches: ContainerRegistryCaches,
    opts: ContainerRegistryControllerOptions,
    metrics?: OperatorMetrics,
  ) {
    this.client = client;
    this.caches = caches;
    this.opts = opts;
    this.cacheOf = (kind) => caches.byKind.get(kind);
    this.applier = new ChildApplier(client, this.cacheOf, metrics);
    this.keyMaterial = new KeyMaterial(client, caches.secrets);
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.caches.registries.get(key) as RegistryObject | undefined;
    if (raw === undefined) {
      this.forget(key);
      return {};
    }
    if (raw.metadata.deletionTimestamp !== undefined) return {}; // children go with it (ownerReferences)
    const parsed = parseRegistry(raw);
    if (!parsed.success) {
      logger.info({ issues: parsed.message }, 'invalid spec; waiting for it to change');
      await this.writeBlocked(raw, {
        reason: Blocked.InvalidSpec,
        message: `invalid spec: ${parsed.message}`,
      });
      return { result: 'invalid' };
    }
    return this.reconcileParsed(raw, parsed.data, logger);
  }

  /** Drops what this process remembers about a registry's children. */
  forget(key: string): void {
    const { namespace, name } = splitKey(key);
    const children = Object.values(childNames(name));
    this.applier.forget(namespace, children);
    this.keyMaterial.forget(namespace, children);
  }

  private get refusedRetryMs(): number {
    return this.opts.refusedRetryMs ?? 300_000;
  }

  private async reconcileParsed(
    raw: RegistryObject,
    parsed: ContainerRegistry,
    logger: Logger,
  ): Promise<ReconcileResult> {
    // The registry on the storage its data is on (a migration may be moving it to spec.storage).
    const served = servedRegistry(raw, parsed);
    const cr = served.registry;
    // --- observe
    const material = await this.material(raw, cr, logger);
    if (material.done) return material.result;
    const inputs = await observeInputs(this.client, cr);
    // --- render
    const render = await this.render(raw, served, material.value, inputs);
    if (render.done) return render.result;
    const rendered = render.value;
    // --- apply, prune
    const outcome = await this.applier.applyStages(applyStages(rendered.objects), logger);
    if (outcome.transient !== undefined) {
      const { obj, err } = outcome.transient;
      const message = `applying ${obj.kind} ${obj.metadata.name} failed, retrying: ${describeError(err)}`;
      // Say so in the status (once: the same message is not written again), then back off.
      await this.writeBlocked(raw, { reason: Blocked.APIError, message }, true).catch(() => undefined);
      throw err;
    }
    await this.prune(cr, rendered.objects, logger);
    // --- status
    const refused: Problem[] = outcome.refused.map((r) => ({
      reason: RegistryProblemReason.ApplyFailed,
      message: r.message,
    }));
    const status = registryStatus(
      {
        registry: cr,
        conditions: (raw.status?.conditions ?? []) as Condition[],
        names: rendered.names,
        endpoint: rendered.endpoint,
        children: observeChildren(this.caches, cr, rendered.names, outcome.applied),
        missingSecrets: inputs.missingSecrets,
        problems: [...refused, ...inputs.problems],
      },
      new Date(),
    );
    if (await writeStatus(this.client, raw, status)) logger.debug('status updated');
    if (refused.length > 0) return { result: 'refused', requeueAfterMs: this.refusedRetryMs };
    return {};
  }

  /** Deletes the registry's children that are no longer rendered (never its claim). */
  private async prune(cr: ContainerRegistry, wanted: readonly KubeObject[], logger: Logger): Promise<void> {
    const scope = {
      namespace: cr.metadata.namespace,
      ownerUid: cr.metadata.uid,
      label: { key: labelKeys.registry, value: cr.metadata.name },
      kinds: prunableKinds,
      wanted,
    };
    await pruneChildren(this.client, this.cacheOf, scope, logger, (ref) =>
      this.applier.forgetChild(ref.kind, ref.namespace, ref.name),
    );
  }

  private async material(
    raw: RegistryObject,
    cr: ContainerRegistry,
    logger: Logger,
  ): Promise<Step<GeneratedMaterial>> {
    try {
      return { done: false, value: await this.keyMaterial.ensure(cr, logger) };
    } catch (err) {
      if (!(err instanceof MaterialError)) throw err;
      await this.writeBlocked(raw, { reason: Blocked.KeyMaterialInvalid, message: err.message });
      return { done: true, result: { result: 'invalid', requeueAfterMs: this.refusedRetryMs } };
    }
  }

  private async render(
    raw: RegistryObject,
    served: ServedRegistry,
    material: GeneratedMaterial,
    inputs: ObservedInputs,
  ): Promise<Step<RenderOutput>> {
    try {
      const value = renderRegistry({
        registry: served.registry,
        material,
        ...(inputs.accessTokens ? { accessTokens: inputs.accessTokens } : {}),
        referencedSecrets: inputs.referencedSecrets,
        defaultImage: this.opts.defaultImage,
        maintenanceReadOnly: served.maintenanceReadOnly,
        ...(served.migrationTarget !== undefined ? { migrationTarget: served.migrationTarget } : {}),
      });
      return { done: false, value };
    } catch (err) {
      if (!(err instanceof ConfigRenderError)) throw err;
      await this.writeBlocked(raw, { reason: Blocked.ConfigInvalid, message: err.message });
      return { done: true, result: { result: 'invalid' } };
    }
  }

  private async writeBlocked(raw: RegistryObject, blocker: Blocker, retrying = false): Promise<void> {
    await writeStatus(this.client, raw, blockedStatus(raw, blocker, retrying, new Date()));
  }
}
