// The slice of the Berth API (operator/api) the ContainerRegistry reconciler uses, in one place.
import {
  apiVersion,
  containerRegistryKind,
  parseContainerRegistry,
  RegistryConditionType,
  type ContainerRegistry,
  type ParseResult,
} from '../api/index.ts';
import type { KubeObject } from '../runtime/objects.ts';

export type { ContainerRegistry };

export const ContainerRegistryKind = { apiVersion, kind: containerRegistryKind } as const;

export const registryConditionTypes = RegistryConditionType;

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
