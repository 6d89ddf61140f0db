// What a ContainerRegistry reconcile reads. Before the render: the access-token Secrets the selector picks and
// the user Secrets the pods reference (live: their keys and a content hash go into the render; the Secret
// cache holds metadata only). After the apply: the children as they now are (the API server's answer to the
// apply, else the informer caches) and whether the user's TLS Secret exists.
import { mergeAccessTokens, type MergedAccessTokens } from '../render/access-tokens.ts';
import { dataClaimName } from '../render/children/data-claim.ts';
import type { ReferencedSecret } from '../render/context.ts';
import { ingressTls } from '../render/ingress-tls.ts';
import type { ChildNames } from '../render/names.ts';
import { referencedSecretNames } from '../render/secret-references.ts';
import { childKey } from '../runtime/apply.ts';
import { contentHash } from '../runtime/hash.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/objects.ts';
import { selectorToString } from '../runtime/selectors.ts';
import type { Deployment, IngressObject, Pvc, SecretObject } from './kube-shapes.ts';
import { RegistryProblemReason, type ContainerRegistry } from './registry-api.ts';
import type { ObservedChildren } from './registry-conditions.ts';
import type { Problem } from './registry-status.ts';

/** The informer caches the ContainerRegistry controller keeps. */
export interface ContainerRegistryCaches {
  registries: ObjectCache<KubeObject>;
  deployments: ObjectCache<Deployment>;
  pvcs: ObjectCache<Pvc>;
  ingresses: ObjectCache<IngressObject>;
  /** Metadata only: every Secret in the watched namespaces (owned ones, and access-token sources). */
  secrets: ObjectCache<KubeObject>;
  /** Every child kind's cache, by kind. */
  byKind: Map<string, ObjectCache<KubeObject>>;
}

export interface ObservedInputs {
  /** The merged access tokens, when spec.auth.accessTokensFrom is set. */
  accessTokens?: MergedAccessTokens;
  /** Each Secret the pods read, by name; undefined when it does not exist. */
  referencedSecrets: Record<string, ReferencedSecret | undefined>;
  /** The names of those that do not exist, in name order. */
  missingSecrets: string[];
  problems: Problem[];
}

export async function observeInputs(client: KubeClient, cr: ContainerRegistry): Promise<ObservedInputs> {
  const namespace = cr.metadata.namespace;
  const problems: Problem[] = [];
  let accessTokens: MergedAccessTokens | undefined;
  const selector = cr.spec.auth.accessTokensFrom;
  if (selector !== undefined) {
    const listed = await client.list<SecretObject>('v1', 'Secret', {
      namespace,
      labelSelector: selectorToString(selector),
    });
    accessTokens = mergeAccessTokens(listed.items);
    for (const message of accessTokens.problems)
      problems.push({ reason: RegistryProblemReason.AccessTokensInvalid, message });
  }
  const names = referencedSecretNames(cr);
  const referencedSecrets: Record<string, ReferencedSecret | undefined> = {};
  for (const name of names) {
    const s = await client.get<SecretObject>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
    referencedSecrets[name] =
      s === undefined
        ? undefined
        : { keys: Object.keys(s.data ?? {}).sort(), hash: contentHash(s.data ?? {}) };
  }
  return {
    ...(accessTokens ? { accessTokens } : {}),
    referencedSecrets,
    missingSecrets: names.filter((name) => referencedSecrets[name] === undefined),
    problems,
  };
}

/** The children after the apply: what the API server returned for them, else what the caches hold. */
export function observeChildren(
  caches: ContainerRegistryCaches,
  cr: ContainerRegistry,
  names: ChildNames,
  applied: ReadonlyMap<string, KubeObject>,
): ObservedChildren {
  const ns = cr.metadata.namespace;
  const fresh = <T extends KubeObject>(kind: string, name: string, cache: ObjectCache<T>): T | undefined =>
    (applied.get(childKey({ kind, metadata: { name } })) as T | undefined) ?? cache.get(`${ns}/${name}`);
  const claimName = dataClaimName(cr);
  const tls = ingressTls(cr);
  return {
    registry: fresh('Deployment', names.registry, caches.deployments),
    issuer: fresh('Deployment', names.issuer, caches.deployments),
    claim:
      claimName === undefined
        ? undefined
        : { name: claimName, pvc: fresh('PersistentVolumeClaim', claimName, caches.pvcs) },
    ingress: fresh('Ingress', names.ingress, caches.ingresses),
    tlsSecretFound: tls.source !== 'secret' || caches.secrets.get(`${ns}/${tls.secretName}`) !== undefined,
  };
}
