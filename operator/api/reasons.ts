// The reasons a ContainerRegistry's conditions carry: one catalogue per condition type, and the operator writes
// no other (users and tools match on them, so they are part of the API). UpperCamelCase, as metav1.Condition
// wants; the message says the rest.
import { InvalidSpecReason } from './common.ts';

/** The reason values of a catalogue. */
export type ReasonOf<C extends Readonly<Record<string, string>>> = C[keyof C];

/** Why a reconcile stopped before rolling anything out: Ready, Progressing and Degraded all carry it. */
export const RegistryBlockedReason = {
  /** The spec does not parse; the message names the field. Not retried until the object changes. */
  InvalidSpec: InvalidSpecReason,
  /** A generated key-material Secret exists but holds something unusable. */
  KeyMaterialInvalid: 'KeyMaterialInvalid',
  /** A rendered config file fails the registry's (or token issuer's) own schema. */
  ConfigInvalid: 'ConfigInvalid',
  /** The API server did not answer or failed transiently; retried with backoff. */
  APIError: 'APIError',
} as const;

/** Problems found on the way that did not stop the reconcile (Degraded names the first one). */
export const RegistryProblemReason = {
  /** The API server refused a child (422 Invalid, 403 Forbidden, ...); retried slowly. */
  ApplyFailed: 'ApplyFailed',
  /** An access-token Secret selected by spec.auth.accessTokensFrom holds something unusable (left out). */
  AccessTokensInvalid: 'AccessTokensInvalid',
} as const;

export const RegistryStorageReadyReason = {
  /** The registry's PersistentVolumeClaim is bound. */
  Bound: 'Bound',
  /** The PersistentVolumeClaim the registry mounts does not exist. */
  ClaimNotFound: 'ClaimNotFound',
  /** The PersistentVolumeClaim exists but is not bound yet. */
  WaitingForVolume: 'WaitingForVolume',
  /** A Secret the spec references (credentials, notification headers) does not exist. */
  SecretNotFound: 'SecretNotFound',
  /** Object storage: configured, and every referenced Secret exists. */
  Configured: 'Configured',
} as const;

export const RegistryAuthReadyReason = {
  /** The token issuer is available. */
  Available: 'Available',
  /** The token issuer's Deployment is not available (yet). */
  IssuerUnavailable: 'IssuerUnavailable',
} as const;

export const RegistryIngressReadyReason = {
  /** spec.ingress.enabled is false: reachable in the cluster only. */
  Disabled: 'Disabled',
  /** spec.ingress.tls.secretName names a Secret that does not exist. */
  TLSSecretNotFound: 'TLSSecretNotFound',
  /** The Ingress has no load-balancer address yet. */
  WaitingForAddress: 'WaitingForAddress',
  /** The Ingress has an address. */
  Admitted: 'Admitted',
} as const;

export const RegistryReadyReason = {
  /** The registry and its token issuer are available. */
  Available: 'Available',
  /** The registry's Deployment is not available (yet). */
  RegistryUnavailable: 'RegistryUnavailable',
  /** The registry is available but its token issuer is not. */
  TokenIssuerUnavailable: 'TokenIssuerUnavailable',
  ApplyFailed: RegistryProblemReason.ApplyFailed,
  ...RegistryBlockedReason,
} as const;

export const RegistryProgressingReason = {
  /** Everything is rolled out and available. */
  Complete: 'Complete',
  /** A rollout is under way (the message says what it waits for). */
  RollingOut: 'RollingOut',
  /** A transient failure is retried with backoff. */
  Retrying: 'Retrying',
  ApplyFailed: RegistryProblemReason.ApplyFailed,
  ...RegistryBlockedReason,
} as const;

export const RegistryDegradedReason = {
  /** No problem found. */
  AsExpected: 'AsExpected',
  /** A rollout exceeded its progress deadline, or a ReplicaSet cannot create pods. */
  RolloutStuck: 'RolloutStuck',
  SecretNotFound: RegistryStorageReadyReason.SecretNotFound,
  ...RegistryProblemReason,
  ...RegistryBlockedReason,
} as const;

/** Reasons of the GarbageCollecting condition (True while a run is under way). */
export const GarbageCollectingReason = {
  /** No run is under way. */
  Idle: 'Idle',
  /** Switching the fleet to read-only and waiting until every pod reports it. */
  EnteringReadOnly: 'EnteringReadOnly',
  /** The collector Job is running. */
  Collecting: 'Collecting',
  /** Switching the fleet back to read-write and waiting until every pod reports it. */
  LeavingReadOnly: 'LeavingReadOnly',
  /** A run is due but waits: another operation runs, or no maintenance window is open. */
  Waiting: 'Waiting',
  /** spec.garbageCollection.suspend: no new run starts. */
  Suspended: 'Suspended',
} as const;

/** Reasons of the ReadOnly condition. */
export const ReadOnlyReason = {
  /** Every registry pod serves writes. */
  ReadWrite: 'ReadWrite',
  /** spec.readOnly is set. */
  Requested: 'Requested',
  /** A maintenance operation holds the fleet read-only (every pod confirmed it). */
  Maintenance: 'Maintenance',
  /** Switching, or a pod has not confirmed the mode yet (the message names it). */
  Switching: 'Switching',
} as const;

/** The result of a garbage collection run (status.lastGarbageCollection.result) and its Event reasons. */
export const GarbageCollectionResult = {
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  TimedOut: 'TimedOut',
  Aborted: 'Aborted',
} as const;

/** Reasons of a CleanupPolicy's RegistryReady condition (and of Ready while it is False). */
export const CleanupRegistryReason = {
  /** The registry exists, is Ready, and allows deletes. */
  Ready: 'Ready',
  /** The policy's spec does not parse (the message says which field). */
  InvalidSpec: 'InvalidSpec',
  /** No ContainerRegistry of spec.registryRef.name in the policy's namespace. */
  RegistryNotFound: 'RegistryNotFound',
  /** The registry exists but is not Ready (yet), or its spec is invalid. */
  RegistryNotReady: 'RegistryNotReady',
  /** The registry's spec.storage.delete is false: tags cannot be deleted (dry runs still work). */
  DeleteDisabled: 'DeleteDisabled',
  /** Ready only: spec.enabled is false, the policy does nothing. */
  Disabled: 'Disabled',
} as const;

/** Reasons of a CleanupPolicy's LastRunSucceeded condition. */
export const CleanupRunReason = {
  NoRunYet: 'NoRunYet',
  /** Progressing only: no run is under way. */
  Idle: 'Idle',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
