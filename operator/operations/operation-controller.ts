// What every maintenance operation's controller (garbage collection, storage migration) is registered with:
// the ContainerRegistry informer as its primary, the Deployments it models its Jobs on and the Jobs it owns
// (which bring their registry back to the queue). The informers are the manager's, shared by every controller.
import type { Logger } from 'pino';
import { labelKeys, managedBy } from '../render/names.ts';
import { ownerKeyMapper, type ReconcileResult } from '../runtime/controller.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { Manager } from '../runtime/manager.ts';
import type { KubeObject } from '../runtime/objects.ts';
import { ContainerRegistryKind } from '../reconcile/registry-api.ts';

/** Caches an operation reads, by `namespace/name`. */
export interface OperationCaches {
  registries: { get(key: string): KubeObject | undefined };
  deployments: { get(key: string): KubeObject | undefined };
  jobs: { get(key: string): KubeObject | undefined };
}

export interface OperationReconciler {
  reconcile(key: string, logger: Logger): Promise<ReconcileResult>;
}

export function addOperationController(
  manager: Manager,
  name: string,
  build: (client: KubeClient, caches: OperationCaches) => OperationReconciler,
  concurrency = 4,
) {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const labelSelector = `${labelKeys.managedBy}=${managedBy}`;
  const deployments = manager.informer<KubeObject>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    labelSelector,
  });
  const jobs = manager.informer<KubeObject>({ apiVersion: 'batch/v1', kind: 'Job', labelSelector });
  const controller = build(manager.client, { registries, deployments, jobs });
  return manager.addController({
    name,
    primary: registries,
    related: [
      { informer: jobs, map: ownerKeyMapper(ContainerRegistryKind.apiVersion, ContainerRegistryKind.kind) },
    ],
    reconcile: (key, { logger }) => controller.reconcile(key, logger),
    concurrency,
  });
}
