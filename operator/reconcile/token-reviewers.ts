// ServiceAccount logins (spec.auth.serviceAccountAccess) need the registry's token issuer to call TokenReview
// with its own ServiceAccount. The chart creates a ClusterRole that may create TokenReviews; the operator keeps
// one ClusterRoleBinding of it whose subjects are exactly the issuers of registries that enable the feature.
// One aggregate key: any ContainerRegistry change re-computes the subject list; the binding is written only
// when the list changed (server-side apply of the same list is a no-op).
import type { Logger } from 'pino';
import type { ReconcileResult } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { Manager } from '../runtime/manager.ts';
import type { KubeObject } from '../runtime/objects.ts';
import { childNames, labelKeys, managedBy } from '../render/names.ts';
import { ContainerRegistryKind, parseRegistry, type RegistryObject } from './registry-api.ts';

export interface TokenReviewerOptions {
  /** The ClusterRole to bind (BERTH_TOKEN_REVIEWER_CLUSTER_ROLE). */
  clusterRole: string;
  /** The one ClusterRoleBinding the operator keeps (BERTH_TOKEN_REVIEWER_BINDING). */
  binding: string;
}

export const tokenReviewersKey = 'token-reviewers';

export function desiredBinding(
  registries: readonly KubeObject[],
  opts: TokenReviewerOptions,
): KubeObject & Record<string, unknown> {
  const subjects = registries
    .flatMap((raw) => {
      const parsed = parseRegistry(raw as RegistryObject);
      if (!parsed.success || raw.metadata.deletionTimestamp !== undefined) return [];
      if (!parsed.data.spec.auth.serviceAccountAccess.enabled) return [];
      return [
        {
          kind: 'ServiceAccount',
          name: childNames(parsed.data.metadata.name).issuerServiceAccount,
          namespace: parsed.data.metadata.namespace,
        },
      ];
    })
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: opts.binding, labels: { [labelKeys.managedBy]: managedBy } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: opts.clusterRole },
    subjects,
  };
}

export async function reconcileTokenReviewers(
  client: KubeClient,
  registries: ObjectCache<KubeObject>,
  opts: TokenReviewerOptions,
  logger: Logger,
): Promise<ReconcileResult> {
  const desired = desiredBinding(registries.list(), opts);
  const before = await client.get<KubeObject>({
    apiVersion: desired.apiVersion,
    kind: desired.kind,
    name: opts.binding,
  });
  const after = await client.apply<KubeObject>(desired);
  if (before?.metadata.resourceVersion !== after.metadata.resourceVersion) {
    logger.info(
      { binding: opts.binding, subjects: (desired['subjects'] as unknown[]).length },
      'token reviewer binding updated',
    );
  }
  return {};
}

export function setupTokenReviewersController(manager: Manager, opts: TokenReviewerOptions) {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  return manager.addController({
    name: 'token-reviewers',
    primary: registries,
    primaryKeys: () => [tokenReviewersKey],
    reconcile: (_key, { logger }) => reconcileTokenReviewers(manager.client, registries, opts, logger),
    concurrency: 1,
  });
}
