// A ContainerRegistry's status, as a pure function of what the reconcile observed: observedGeneration, the
// conditions (Ready, Progressing, Degraded and the domain ones of registry-conditions.ts), the endpoint and
// the registry's replica counts. Every reason comes from the catalogues in operator/api/reasons.ts.
import { setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { Condition } from '../runtime/objects.ts';
import type { ChildNames } from '../render/names.ts';
import { issuerReplicas } from '../render/children/issuer-deployment.ts';
import { rolloutOf, type Rollout } from './deployment-rollout.ts';
import {
  authReady,
  ingressReady,
  storageReady,
  type ConditionFrom,
  type ObservedChildren,
} from './registry-conditions.ts';
import {
  registryConditionTypes as types,
  RegistryBlockedReason,
  RegistryDegradedReason as DegradedReason,
  RegistryProblemReason,
  RegistryProgressingReason as ProgressingReason,
  RegistryReadyReason as ReadyReason,
  RegistryStorageReadyReason,
  type ContainerRegistry,
  type ReasonOf,
  type RegistryObject,
} from './registry-api.ts';

/** Something wrong that did not stop the reconcile (a refused child, an unusable access-token file). */
export interface Problem {
  reason: ReasonOf<typeof RegistryProblemReason>;
  message: string;
}

/** Why the reconcile stopped before rolling anything out. */
export interface Blocker {
  reason: ReasonOf<typeof RegistryBlockedReason>;
  message: string;
}

export interface RegistryStatusInput {
  registry: ContainerRegistry;
  /** The conditions the object holds now (other writers' types are left alone). */
  conditions: readonly Condition[];
  names: ChildNames;
  endpoint: string;
  children: ObservedChildren;
  /** Referenced user Secrets (registry pods read them) that do not exist. */
  missingSecrets: readonly string[];
  /** Refused children first, then the other problems. */
  problems: readonly Problem[];
}

/** The status fields this reconciler writes (a type, not an interface: writeStatus takes a plain record). */
export type RegistryStatus = {
  observedGeneration: number | undefined;
  conditions: Condition[];
  endpoint?: string;
  replicas?: number;
  readyReplicas?: number;
};

/** Only this reconciler's condition types of `current`, so a status apply leaves others' alone. */
function ownConditions(current: readonly Condition[] | undefined, types: readonly string[]): Condition[] {
  return (current ?? []).filter((c) => types.includes(c.type));
}

function degraded(
  problems: readonly Problem[],
  stuck: string | undefined,
  storage: ConditionFrom<typeof RegistryStorageReadyReason>,
): ConditionFrom<typeof DegradedReason> {
  const type = types.Degraded;
  const [first] = problems;
  if (first !== undefined) {
    return { type, status: true, reason: first.reason, message: problems.map((p) => p.message).join('; ') };
  }
  if (stuck !== undefined) return { type, status: true, reason: DegradedReason.RolloutStuck, message: stuck };
  if (storage.status === false && storage.reason === RegistryStorageReadyReason.SecretNotFound) {
    return { type, status: true, reason: DegradedReason.SecretNotFound, message: storage.message };
  }
  return { type, status: false, reason: DegradedReason.AsExpected, message: 'no problems found' };
}

function ready(
  input: RegistryStatusInput,
  refused: Problem | undefined,
  registry: Rollout,
  issuer: Rollout,
  auth: ConditionInput,
): ConditionFrom<typeof ReadyReason> {
  const type = types.Ready;
  if (refused !== undefined) {
    return { type, status: false, reason: ReadyReason.ApplyFailed, message: refused.message };
  }
  if (!registry.available) {
    return {
      type,
      status: false,
      reason: ReadyReason.RegistryUnavailable,
      message: `waiting for Deployment ${input.names.registry} to become available (${registry.text})`,
    };
  }
  if (!issuer.available) {
    return { type, status: false, reason: ReadyReason.TokenIssuerUnavailable, message: auth.message };
  }
  return {
    type,
    status: true,
    reason: ReadyReason.Available,
    message: `the registry serves at ${input.endpoint}`,
  };
}

function progressing(
  readyNow: ConditionFrom<typeof ReadyReason>,
  refused: Problem | undefined,
): ConditionFrom<typeof ProgressingReason> {
  const type = types.Progressing;
  if (readyNow.status === true) {
    return {
      type,
      status: false,
      reason: ProgressingReason.Complete,
      message: 'the registry and its token issuer are up to date and available',
    };
  }
  if (refused !== undefined) {
    return { type, status: false, reason: ProgressingReason.ApplyFailed, message: refused.message };
  }
  return { type, status: true, reason: ProgressingReason.RollingOut, message: readyNow.message };
}

/** The status of a registry whose children were applied (some may have been refused). */
export function registryStatus(input: RegistryStatusInput, now: Date): RegistryStatus {
  const { registry: cr, children, names } = input;
  const registry = rolloutOf(children.registry, cr.spec.replicas);
  const issuer = rolloutOf(children.issuer, issuerReplicas(cr.spec.replicas));
  const storage = storageReady(cr, children.claim, input.missingSecrets);
  const auth = authReady(names.issuer, issuer);
  const refused = input.problems.find((p) => p.reason === RegistryProblemReason.ApplyFailed);
  const readyNow = ready(input, refused, registry, issuer, auth);
  const mine = [
    readyNow,
    progressing(readyNow, refused),
    degraded(input.problems, registry.stuck ?? issuer.stuck, storage),
    storage,
    auth,
    ingressReady(cr, names, children),
  ];
  const generation = cr.metadata.generation;
  const existing = ownConditions(
    input.conditions,
    mine.map((m) => m.type),
  );
  return {
    observedGeneration: generation,
    conditions: setConditions(existing, mine, generation, now),
    endpoint: input.endpoint,
    replicas: children.registry?.status?.replicas ?? 0,
    readyReplicas: children.registry?.status?.readyReplicas ?? 0,
  };
}

/**
 * The status of a registry whose reconcile stopped: Ready=False and Degraded=True with the blocker's reason,
 * Progressing saying whether it is retried; what this reconciler reported before otherwise kept (it would
 * be dropped from its applied status).
 */
export function blockedStatus(
  raw: RegistryObject,
  blocker: Blocker,
  retrying: boolean,
  now: Date,
): RegistryStatus {
  const generation = raw.metadata.generation;
  const current = (raw.status ?? {}) as Partial<RegistryStatus>;
  const inputs = [
    { type: types.Ready, status: false, reason: blocker.reason, message: blocker.message },
    retrying
      ? {
          type: types.Progressing,
          status: true,
          reason: ProgressingReason.Retrying,
          message: 'retrying with backoff',
        }
      : {
          type: types.Progressing,
          status: false,
          reason: blocker.reason,
          message: 'nothing is rolled out until the problem is fixed',
        },
    { type: types.Degraded, status: true, reason: blocker.reason, message: blocker.message },
  ];
  const existing = ownConditions(
    current.conditions,
    inputs.map((i) => i.type),
  );
  const { endpoint, replicas, readyReplicas } = current;
  return {
    observedGeneration: generation,
    conditions: setConditions(existing, inputs, generation, now),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(readyReplicas !== undefined ? { readyReplicas } : {}),
  };
}
