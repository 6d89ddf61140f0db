// Where a Deployment's rollout stands, from its status: available (the current generation observed, every
// desired replica updated and available, no old pod left), in words for the conditions, and why it is stuck
// when the Deployment controller says it is.
import type { Deployment } from './kube-shapes.ts';

export interface Rollout {
  available: boolean;
  /** e.g. `1/3 replicas available, rollout not observed yet`. */
  text: string;
  /** The progress deadline was exceeded, or a ReplicaSet cannot create pods. */
  stuck?: string;
}

function stuckReason(d: Deployment): string | undefined {
  const conditions = d.status?.conditions;
  const progressing = conditions?.find((c) => c.type === 'Progressing');
  const failure = conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return progressing.message ?? 'the rollout exceeded its progress deadline';
  }
  if (failure) return failure.message ?? failure.reason ?? 'replica failure';
  return undefined;
}

export function rolloutOf(d: Deployment | undefined, desired: number): Rollout {
  if (d === undefined) return { available: false, text: 'not created yet' };
  const s = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  const available = s.availableReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const current = (s.observedGeneration ?? 0) >= generation;
  const stuck = stuckReason(d);
  return {
    available: current && updated >= desired && available >= desired && total <= updated,
    text: `${String(available)}/${String(desired)} replicas available${current ? '' : ', rollout not observed yet'}`,
    ...(stuck !== undefined ? { stuck } : {}),
  };
}
