// Where the registry Ingress's certificate comes from: the user's Secret (spec.ingress.tls.secretName), a
// cert-manager issuer (which writes <name>-tls), or a self-signed certificate the operator generates.
import type { ContainerRegistry } from '../api/index.ts';
import { childNames } from './names.ts';

/** Which TLS source the Ingress uses, and the Secret that holds (or will hold) its certificate. */
export function ingressTls(cr: ContainerRegistry): {
  source: 'secret' | 'issuer' | 'self-signed';
  secretName: string;
} {
  const n = childNames(cr.metadata.name);
  const tls = cr.spec.ingress.tls;
  if (tls.secretName !== undefined) return { source: 'secret', secretName: tls.secretName };
  if (tls.issuerRef !== undefined) return { source: 'issuer', secretName: n.issuedTls };
  return { source: 'self-signed', secretName: n.selfSignedTls };
}

/** Whether the registry needs a generated self-signed certificate (and for which host). */
export function selfSignedHost(cr: ContainerRegistry): string | undefined {
  const { ingress } = cr.spec;
  if (!ingress.enabled || ingress.host === undefined) return undefined;
  return ingressTls(cr).source === 'self-signed' ? ingress.host : undefined;
}
