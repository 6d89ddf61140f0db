// The slice of the Berth API (operator/api) the ContainerRegistry reconciler uses, in one place.
import {
  apiVersion,
  ConditionType,
  containerRegistryKind,
  parseContainerRegistry,
  RegistryConditionType,
  type ContainerRegistry,
  type ParseResult,
} from '../api/index.ts';
import type { KubeObject } from '../runtime/objects.ts';

export type { ContainerRegistry };
export {
  RegistryAuthReadyReason,
  RegistryBlockedReason,
  RegistryDegradedReason,
  RegistryIngressReadyReason,
  RegistryProblemReason,
  RegistryProgressingReason,
  RegistryReadyReason,
  RegistryStorageReadyReason,
  type ReasonOf,
} from '../api/index.ts';

export const ContainerRegistryKind = { apiVersion, kind: containerRegistryKind } as const;

/** Every condition type a ContainerRegistry's reconciler writes: the generic ones and its domain ones. */
export const registryConditionTypes = { ...ConditionType, ...RegistryConditionType } as const;

/** A ContainerRegistry as the informer holds it: not parsed yet. */
export interface RegistryObject extends KubeObject {
  spec?: unknown;
  status?: { conditions?: unknown[] } & Record<string, unknown>;
}

/**
 * Parses with the API's schemas (defaults applied, CEL-equivalent rules checked); issues name the field. The
 * status is left out: it is the operators' own output (other writers may add to it), never a reason to call
 * the spec invalid. Read it from the raw object.
 */
export function parseRegistry(obj: RegistryObject): ParseResult<ContainerRegistry> {
  const { status: _status, ...rest } = obj;
  return parseContainerRegistry(rest);
}
