// The user Secrets a ContainerRegistry names. Worked out here only: the reconciler reads the ones the pods use
// (their content goes into the pod-template hash), the status reports the missing ones, and a change to any
// of them brings the registry back to the work queue.
import type { ContainerRegistry } from '../api/index.ts';
import { selectedStorage } from '../api/index.ts';
import { ingressTls } from './ingress-tls.ts';

/** User Secrets the registry's pods read, by name (storage credentials, notification header values). */
export function referencedSecretNames(cr: ContainerRegistry): string[] {
  const names = new Set<string>();
  const storage = selectedStorage(cr.spec.storage);
  if (storage.driver !== 'filesystem' && storage.config.credentialsSecretRef !== undefined) {
    names.add(storage.config.credentialsSecretRef.name);
  }
  for (const e of cr.spec.notifications?.endpoints ?? []) {
    if (e.headersSecretRef !== undefined) names.add(e.headersSecretRef.name);
  }
  return [...names].sort();
}

/** Every user Secret the spec names: the ones the pods read, and the Ingress's own TLS Secret. */
export function namedSecrets(cr: ContainerRegistry): string[] {
  const tls = ingressTls(cr);
  const names = referencedSecretNames(cr);
  return tls.source === 'secret' ? [...names, tls.secretName] : names;
}
