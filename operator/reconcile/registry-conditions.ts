// The domain conditions of a ContainerRegistry (StorageReady, AuthReady, IngressReady), from what was observed
// after the apply. Pure; every reason comes from the catalogues in operator/api/reasons.ts.
import type { ConditionInput } from '../runtime/conditions.ts';
import { ingressClassNote } from '../render/ingress-class.ts';
import { ingressTls } from '../render/ingress-tls.ts';
import type { ChildNames } from '../render/names.ts';
import type { Rollout } from './deployment-rollout.ts';
import type { Deployment, IngressObject, Pvc } from './kube-shapes.ts';
import {
  registryConditionTypes as types,
  RegistryAuthReadyReason as AuthReason,
  RegistryIngressReadyReason as IngressReason,
  RegistryStorageReadyReason as StorageReason,
  type ContainerRegistry,
  type ReasonOf,
} from './registry-api.ts';

/** A condition whose reason comes from the catalogue C. */
export type ConditionFrom<C extends Readonly<Record<string, string>>> = ConditionInput & {
  reason: ReasonOf<C>;
};

/** The children as they are after the apply (what the API server returned, else the cache). */
export interface ObservedChildren {
  registry: Deployment | undefined;
  issuer: Deployment | undefined;
  /** Filesystem storage only: the claim the registry pods mount, and the claim itself if it exists. */
  claim: { name: string; pvc: Pvc | undefined } | undefined;
  ingress: IngressObject | undefined;
  /** Whether the user's TLS Secret (spec.ingress.tls.secretName) exists; true when none is named. */
  tlsSecretFound: boolean;
}

export function storageReady(
  cr: ContainerRegistry,
  claim: ObservedChildren['claim'],
  missingSecrets: readonly string[],
): ConditionFrom<typeof StorageReason> {
  const type = types.StorageReady;
  if (claim !== undefined) {
    const phase = claim.pvc?.status?.phase;
    if (phase === 'Bound') {
      return {
        type,
        status: true,
        reason: StorageReason.Bound,
        message: `PersistentVolumeClaim ${claim.name} is bound`,
      };
    }
    return claim.pvc === undefined
      ? {
          type,
          status: false,
          reason: StorageReason.ClaimNotFound,
          message: `PersistentVolumeClaim ${claim.name} does not exist`,
        }
      : {
          type,
          status: false,
          reason: StorageReason.WaitingForVolume,
          message: `PersistentVolumeClaim ${claim.name} is ${phase ?? 'Pending'}`,
        };
  }
  if (missingSecrets.length > 0) {
    return {
      type,
      status: false,
      reason: StorageReason.SecretNotFound,
      message: `Secret ${missingSecrets.join(', ')} (referenced by the spec) does not exist in ${cr.metadata.namespace}`,
    };
  }
  return { type, status: true, reason: StorageReason.Configured, message: 'object storage is configured' };
}

export function authReady(issuerName: string, issuer: Rollout): ConditionFrom<typeof AuthReason> {
  const type = types.AuthReady;
  return issuer.available
    ? { type, status: true, reason: AuthReason.Available, message: `token issuer ${issuerName} is available` }
    : {
        type,
        status: false,
        reason: AuthReason.IssuerUnavailable,
        message: `waiting for Deployment ${issuerName} to become available (${issuer.text})`,
      };
}

export function ingressReady(
  cr: ContainerRegistry,
  names: ChildNames,
  children: Pick<ObservedChildren, 'ingress' | 'tlsSecretFound'>,
): ConditionFrom<typeof IngressReason> {
  const type = types.IngressReady;
  const spec = cr.spec.ingress;
  if (!spec.enabled) {
    return {
      type,
      status: true,
      reason: IngressReason.Disabled,
      message: 'spec.ingress.enabled is false; the registry is reachable in the cluster only',
    };
  }
  if (!children.tlsSecretFound) {
    return {
      type,
      status: false,
      reason: IngressReason.TLSSecretNotFound,
      message: `TLS Secret ${ingressTls(cr).secretName} does not exist in ${cr.metadata.namespace}`,
    };
  }
  // What the class's controller needs that the Ingress cannot ask for (Traefik's read timeout).
  const note = ingressClassNote(spec.className);
  const withNote = (message: string) => (note === undefined ? message : `${message}; ${note}`);
  const address = children.ingress?.status?.loadBalancer?.ingress?.[0];
  if (address === undefined) {
    return {
      type,
      status: false,
      reason: IngressReason.WaitingForAddress,
      message: withNote(
        `Ingress ${names.ingress} has no address yet (is an ingress controller running for it?)`,
      ),
    };
  }
  return {
    type,
    status: true,
    reason: IngressReason.Admitted,
    message: withNote(`Ingress ${names.ingress} is served at ${address.hostname ?? address.ip ?? ''}`),
  };
}
