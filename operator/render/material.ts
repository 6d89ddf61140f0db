// Key material a registry needs and that the operator generates exactly once: the token issuer's signing key
// and certificate, the registry's HTTP secret (signs upload state; the same on every replica) and, for an
// Ingress without a certificate source, a self-signed TLS certificate. Once a Secret holds it, its content is
// reused forever (tokens, the registry's trust bundle and in-flight uploads depend on it); these functions
// read it back, or make new material for a Secret that does not exist yet.
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import {
  createCertificate,
  generatePrivateKey,
  generateSigningKeyPair,
} from '../../registry/auth/keypair.ts';

export interface SigningMaterial {
  privateKeyPem: string;
  certificatePem: string;
}

export interface TlsMaterial {
  certificatePem: string;
  privateKeyPem: string;
  /** The host name the certificate was made for. */
  host: string;
}

export interface GeneratedMaterial {
  signing: SigningMaterial;
  httpSecret: string;
  /** Only when the Ingress needs a generated certificate. */
  selfSignedTls?: TlsMaterial;
}

/** Secret data keys. */
export const secretKeys = {
  signingKey: 'token.key',
  signingCert: 'token.crt',
  httpSecret: 'http-secret',
  tlsCert: 'tls.crt',
  tlsKey: 'tls.key',
} as const;

interface SecretLike {
  data?: Record<string, string>;
  metadata: { annotations?: Record<string, string> };
}

function decoded(secret: SecretLike, key: string): string | undefined {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export class MaterialError extends Error {
  readonly secret: string;
  constructor(secret: string, message: string) {
    super(`Secret ${secret}: ${message}`);
    this.name = 'MaterialError';
    this.secret = secret;
  }
}

/** The signing key pair in an existing Secret. Throws MaterialError if it is there but unusable. */
export function signingFromSecret(name: string, secret: SecretLike): SigningMaterial {
  const privateKeyPem = decoded(secret, secretKeys.signingKey);
  const certificatePem = decoded(secret, secretKeys.signingCert);
  if (privateKeyPem === undefined || certificatePem === undefined) {
    throw new MaterialError(name, `must hold ${secretKeys.signingKey} and ${secretKeys.signingCert}`);
  }
  try {
    createPrivateKey(privateKeyPem);
    new X509Certificate(certificatePem);
  } catch {
    throw new MaterialError(name, `${secretKeys.signingKey} or ${secretKeys.signingCert} is not valid PEM`);
  }
  return { privateKeyPem, certificatePem };
}

export function httpSecretFromSecret(name: string, secret: SecretLike): string {
  const v = decoded(secret, secretKeys.httpSecret);
  if (v === undefined || v === '')
    throw new MaterialError(name, `must hold a non-empty ${secretKeys.httpSecret}`);
  return v;
}

/** A generated TLS Secret's material, or undefined when it is unusable for `host` (it is then remade). */
export function tlsFromSecret(secret: SecretLike, host: string): TlsMaterial | undefined {
  const certificatePem = decoded(secret, secretKeys.tlsCert);
  const privateKeyPem = decoded(secret, secretKeys.tlsKey);
  if (certificatePem === undefined || privateKeyPem === undefined) return undefined;
  try {
    const cert = new X509Certificate(certificatePem);
    if (cert.checkHost(host) === undefined) return undefined;
    createPrivateKey(privateKeyPem);
  } catch {
    return undefined;
  }
  return { certificatePem, privateKeyPem, host };
}

export async function generateSigning(issuer: string): Promise<SigningMaterial> {
  const commonName = /^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,63}$/.test(issuer) ? issuer : 'berth-token-issuer';
  const pair = await generateSigningKeyPair({ algorithm: 'ES256', commonName });
  return { privateKeyPem: pair.privateKeyPem, certificatePem: pair.certificatePem };
}

export function generateHttpSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function generateSelfSignedTls(host: string): Promise<TlsMaterial> {
  const key = await generatePrivateKey('ES256');
  const privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const commonName = host.length <= 64 ? host : 'berth-registry';
  const certificatePem = await createCertificate(privateKeyPem, {
    commonName,
    subjectAltNames: [`DNS:${host}`],
    days: 825,
  });
  return { certificatePem, privateKeyPem, host };
}

export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}
