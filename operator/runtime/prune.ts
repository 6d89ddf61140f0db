// Deleting the children an owner no longer wants (an Ingress that was switched off, a PodDisruptionBudget once
// replicas drop to 1, ...). A child is the owner's when it carries the owner's label and its controller
// ownerReference names the owner's uid: objects the owner only labels (a retained claim) and objects someone
// else controls are never deleted. The cache decides what exists; the delete is preconditioned on the uid
// seen there, so a same-named successor is not hit.
import type { Logger } from 'pino';
import { childKey, type CacheOfKind } from './apply.ts';
import type { KubeClient } from './kube-client.ts';
import { controllerOf, type KubeObject, type ObjectRef } from './objects.ts';

export interface PruneScope {
  namespace: string;
  /** The owner's uid: only children it controls are deleted. */
  ownerUid: string | undefined;
  /** A label all of the owner's children carry. */
  label: { key: string; value: string };
  /** The kinds that may be pruned. */
  kinds: readonly { apiVersion: string; kind: string }[];
  /** The desired children: these stay. */
  wanted: readonly KubeObject[];
}

/** Deletes the owner's children that are not wanted; calls `deleted` for each. */
export async function pruneChildren(
  client: KubeClient,
  cacheOf: CacheOfKind,
  scope: PruneScope,
  logger: Logger,
  deleted: (ref: ObjectRef) => void = () => undefined,
): Promise<void> {
  const wanted = new Set(scope.wanted.map(childKey));
  for (const { apiVersion, kind } of scope.kinds) {
    for (const obj of cacheOf(kind)?.list() ?? []) {
      if (obj.metadata.namespace !== scope.namespace) continue;
      if (obj.metadata.labels?.[scope.label.key] !== scope.label.value) continue;
      if (controllerOf(obj)?.uid !== scope.ownerUid || wanted.has(`${kind}/${obj.metadata.name}`)) continue;
      logger.info({ kind, name: obj.metadata.name }, 'deleting a child that is no longer wanted');
      const ref: ObjectRef = { apiVersion, kind, namespace: scope.namespace, name: obj.metadata.name };
      await client.delete(ref, {
        ...(obj.metadata.uid !== undefined ? { uid: obj.metadata.uid } : {}),
        propagationPolicy: 'Background',
      });
      deleted(ref);
    }
  }
}
