// Digests as the OCI image spec defines them: `algorithm ":" encoded`. Berth stores and verifies sha256 and
// sha512; any other registered-looking algorithm is rejected with DIGEST_INVALID.
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

const encodedPattern: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export function isDigest(value: string): boolean {
  const i = value.indexOf(':');
  if (i <= 0) return false;
  const algorithm = value.slice(0, i);
  const pattern = encodedPattern[algorithm as DigestAlgorithm];
  return pattern !== undefined && pattern.test(value.slice(i + 1));
}

/** Returns the digest's algorithm, or throws DIGEST_INVALID naming the bad value. */
export function parseDigest(value: string): DigestAlgorithm {
  if (!isDigest(value)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: value } });
  }
  return value.slice(0, value.indexOf(':')) as DigestAlgorithm;
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(content: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}`;
}
