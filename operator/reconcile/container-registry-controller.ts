// Wiring of the ContainerRegistry controller: the informers it reads (every child kind, labelled children only;
// every Secret, metadata only) and which registries an event on each concerns — a child's owner, and for a
// user Secret every registry in its namespace that selects it or names it.
import { namedSecrets } from '../render/secret-references.ts';
import { labelKeys, managedBy } from '../render/names.ts';
import { ownerKeyMapper } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import { objectKey, type KubeObject } from '../runtime/objects.ts';
import { selectorMatches, type LabelSelector } from '../runtime/selectors.ts';
import {
  ContainerRegistryReconciler,
  type ContainerRegistryControllerOptions,
} from './container-registry.ts';
import type { Deployment, IngressObject, Pvc } from './kube-shapes.ts';
import type { ContainerRegistryCaches } from './observe.ts';
import { ContainerRegistryKind, parseRegistry, type RegistryObject } from './registry-api.ts';
import { childKinds } from './registry-children.ts';

const managedSelector = `${labelKeys.managedBy}=${managedBy}`;

/** How a registry refers to user Secrets: by name, and by the access-token selector. */
interface SecretInterest {
  names: string[];
  selector: LabelSelector | undefined;
}

// By registry object as the cache holds it (an update brings a new object); null: the spec does not parse,
// and such a registry waits for its own change, not a Secret's.
const interests = new WeakMap<RegistryObject, SecretInterest | null>();

function secretInterestOf(reg: RegistryObject): SecretInterest | null {
  let interest = interests.get(reg);
  if (interest === undefined) {
    const parsed = parseRegistry(reg);
    interest = parsed.success
      ? { names: namedSecrets(parsed.data), selector: parsed.data.spec.auth.accessTokensFrom }
      : null;
    interests.set(reg, interest);
  }
  return interest;
}

function concerns(interest: SecretInterest | null, secret: KubeObject): boolean {
  if (interest === null) return false;
  if (interest.selector !== undefined && selectorMatches(interest.selector, secret.metadata.labels))
    return true;
  return interest.names.includes(secret.metadata.name);
}

function childCaches(manager: Manager, registries: ObjectCache<KubeObject>): ContainerRegistryCaches {
  const labelled = <T extends KubeObject>(apiVersion: string, kind: string, metadataOnly?: boolean) =>
    manager.informer<T>({
      apiVersion,
      kind,
      labelSelector: managedSelector,
      ...(metadataOnly ? { metadataOnly } : {}),
    });
  const deployments = labelled<Deployment>('apps/v1', 'Deployment');
  const pvcs = labelled<Pvc>('v1', 'PersistentVolumeClaim');
  const ingresses = labelled<IngressObject>('networking.k8s.io/v1', 'Ingress');
  // Every Secret, metadata only: owned ones, the user's access-token and credential Secrets (matched below).
  const secrets = manager.informer<KubeObject>({ apiVersion: 'v1', kind: 'Secret', metadataOnly: true });
  const byKind = new Map<string, ObjectCache<KubeObject>>([
    ['Deployment', deployments],
    ['PersistentVolumeClaim', pvcs],
    ['Ingress', ingresses],
    ['Secret', secrets],
  ]);
  for (const k of childKinds) {
    if (!byKind.has(k.kind)) byKind.set(k.kind, labelled(k.apiVersion, k.kind, true));
  }
  return { registries, deployments, pvcs, ingresses, secrets, byKind };
}

/** Registers the informers and the ContainerRegistry controller with the manager. */
export function setupContainerRegistryController(manager: Manager, opts: ContainerRegistryControllerOptions) {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const caches = childCaches(manager, registries);
  const reconciler = new ContainerRegistryReconciler(manager.client, caches, opts, manager.metrics);

  const byLabel = (obj: KubeObject): string[] => {
    const r = obj.metadata.labels?.[labelKeys.registry];
    return r === undefined || obj.metadata.namespace === undefined ? [] : [`${obj.metadata.namespace}/${r}`];
  };
  const owners = ownerKeyMapper(ContainerRegistryKind.apiVersion, ContainerRegistryKind.kind);
  const childMap = (obj: KubeObject) => [...new Set([...owners(obj), ...byLabel(obj)])];
  const secretMap = (obj: KubeObject): string[] => {
    const keys = new Set(childMap(obj));
    for (const reg of registries.list() as RegistryObject[]) {
      if (reg.metadata.namespace === obj.metadata.namespace && concerns(secretInterestOf(reg), obj))
        keys.add(objectKey(reg));
    }
    return [...keys];
  };
  const controller = manager.addController({
    name: 'containerregistry',
    primary: registries,
    related: [
      ...[...caches.byKind.entries()]
        .filter(([kind]) => kind !== 'Secret')
        .map(([, informer]) => ({ informer, map: childMap })),
      { informer: caches.secrets, map: secretMap },
    ],
    reconcile: (key, { logger }) => reconciler.reconcile(key, logger),
    concurrency: opts.concurrency ?? 4,
  });
  return { controller, reconciler, caches };
}
