// Verifies a JWS `x5c` certificate chain against the trusted roots of the rootcertbundle, the way Go's
// x509.Verify does for Distribution: the leaf may itself be a bundle certificate; otherwise each certificate must
// be signed by the next (intermediates must be CAs) until one is signed by a bundle root. Every certificate on
// the path must be within its validity period. Extended key usages are not checked (Distribution allows any).
import { X509Certificate } from 'node:crypto';

const maxChainLength = 8;
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

export class CertificateChainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateChainError';
  }
}

/** `x5c` entries are standard (not URL-safe) base64 DER. Buffer.from is lenient, so check the alphabet first. */
export function parseX5c(x5c: readonly unknown[]): X509Certificate[] {
  if (x5c.length === 0 || x5c.length > maxChainLength) {
    throw new CertificateChainError(`x5c must hold 1 to ${maxChainLength} certificates`);
  }
  return x5c.map((entry, i) => {
    if (typeof entry !== 'string' || !base64Pattern.test(entry)) {
      throw new CertificateChainError(`x5c[${i}] is not base64`);
    }
    try {
      return new X509Certificate(Buffer.from(entry, 'base64'));
    } catch {
      throw new CertificateChainError(`x5c[${i}] is not an X.509 certificate`);
    }
  });
}

function isCurrent(cert: X509Certificate, now: Date): boolean {
  return cert.validFromDate <= now && now <= cert.validToDate;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Returns the leaf certificate when the chain reaches a root; throws CertificateChainError otherwise. The caller
 * verifies the JWS with the leaf's public key.
 */
export function verifyChain(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: Date,
): X509Certificate {
  const [leaf, ...intermediates] = chain;
  if (!leaf) throw new CertificateChainError('empty certificate chain');
  let current = leaf;
  const used = new Set<X509Certificate>([leaf]);
  for (let depth = 0; depth <= maxChainLength; depth++) {
    if (!isCurrent(current, now)) {
      throw new CertificateChainError(`certificate ${current.subject} is expired or not yet valid`);
    }
    if (roots.some((root) => root.raw.equals(current.raw))) return leaf;
    const root = roots.find((r) => signedBy(current, r));
    if (root) {
      if (!isCurrent(root, now)) {
        throw new CertificateChainError('the bundle root is expired or not yet valid');
      }
      return leaf;
    }
    const next = intermediates.find((i) => !used.has(i) && i.ca && signedBy(current, i));
    if (!next) break;
    used.add(next);
    current = next;
  }
  throw new CertificateChainError('certificate chain does not reach a certificate of the rootcertbundle');
}
