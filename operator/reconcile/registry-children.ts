// The kinds a registry is made of. The controller watches each (labelled children only); the reconciler
// applies them in two stages and deletes the ones it no longer renders — except PersistentVolumeClaims:
// registry data is never deleted here.
import type { KubeObject } from '../runtime/objects.ts';

export const childKinds = [
  { apiVersion: 'v1', kind: 'ServiceAccount', prune: true },
  { apiVersion: 'v1', kind: 'Secret', prune: true },
  { apiVersion: 'v1', kind: 'ConfigMap', prune: true },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', prune: false },
  { apiVersion: 'v1', kind: 'Service', prune: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', prune: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', prune: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', prune: true },
] as const;

export const prunableKinds = childKinds.filter((k) => k.prune);

/** What pods read at start: applied first, so the first pods do not start before their config exists. */
const podInputKinds: ReadonlySet<string> = new Set([
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'PersistentVolumeClaim',
]);

/** The rendered children in apply stages: what pods read first, then the rest. */
export function applyStages(objects: readonly KubeObject[]): KubeObject[][] {
  return [
    objects.filter((o) => podInputKinds.has(o.kind)),
    objects.filter((o) => !podInputKinds.has(o.kind)),
  ];
}
