// The Secrets whose content the operator generates (token signing keypair, HTTP secret, self-signed TLS
// certificate). Rendered with the other children, and also on their own: the reconciler creates each exactly
// once, before the first render, from these same objects.
import type { ContainerRegistry } from '../api/index.ts';
import type { KubeObject } from '../runtime/objects.ts';
import { b64, secretKeys, type SigningMaterial, type TlsMaterial } from './material.ts';
import { annotationKeys, childNames } from './names.ts';

/** A Secret whose content the operator generates. */
export type GeneratedSecret = KubeObject & { type: string; data: Record<string, string> };

/** A generated Secret of the registry, annotated with what it holds (and any further annotations). */
function generatedSecret(
  cr: ContainerRegistry,
  name: 'signingKeys' | 'httpSecret' | 'selfSignedTls',
  holds: string,
  type: string,
  data: Record<string, string>,
  annotations: Record<string, string> = {},
): GeneratedSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: childNames(cr.metadata.name)[name],
      namespace: cr.metadata.namespace,
      annotations: { [annotationKeys.generated]: holds, ...annotations },
    },
    type,
    data,
  };
}

export function signingSecret(cr: ContainerRegistry, m: SigningMaterial): GeneratedSecret {
  const data = {
    [secretKeys.signingKey]: b64(m.privateKeyPem),
    [secretKeys.signingCert]: b64(m.certificatePem),
  };
  return generatedSecret(cr, 'signingKeys', 'token-signing-keypair', 'Opaque', data);
}

export function httpSecretSecret(cr: ContainerRegistry, secret: string): GeneratedSecret {
  return generatedSecret(cr, 'httpSecret', 'http-secret', 'Opaque', { [secretKeys.httpSecret]: b64(secret) });
}

export function selfSignedTlsSecret(cr: ContainerRegistry, m: TlsMaterial): GeneratedSecret {
  const data = { [secretKeys.tlsCert]: b64(m.certificatePem), [secretKeys.tlsKey]: b64(m.privateKeyPem) };
  return generatedSecret(cr, 'selfSignedTls', 'self-signed-tls', 'kubernetes.io/tls', data, {
    [annotationKeys.tlsHost]: m.host,
  });
}
