// The registry's trust store: the certificates of `rootcertbundle` (x5c roots, and their keys addressable by
// `kid`) and the keys of the `jwks` file. Only public keys ever live here. Built whole and swapped on reload, so
// a failed reload leaves the previous store in force.
import { createHash, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';

export interface TrustedKey {
  key: KeyObject;
  /** The JWKS entry's `alg`, when it pins one. */
  alg?: string;
}

export interface TrustStore {
  roots: X509Certificate[];
  /** By `kid`: JWKS key ids, and for bundle certificates the RFC 7638 thumbprint and the libtrust key id. */
  keys: Map<string, TrustedKey>;
  /** RFC 7638 thumbprints of every trusted key, to recognise a `jwk` header that carries one of them. */
  thumbprints: Map<string, TrustedKey>;
}

export interface TrustSources {
  rootcertbundle?: string;
  jwks?: string;
}

const pemCertificate = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block of a PEM bundle; other blocks are ignored, as Distribution does. */
export function parsePemCertificates(pem: string): X509Certificate[] {
  return [...pem.matchAll(pemCertificate)].map((m) => new X509Certificate(m[0]));
}

export async function jwkThumbprint(key: KeyObject): Promise<string> {
  return calculateJwkThumbprint(key.export({ format: 'jwk' }) as JWK, 'sha256');
}

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * libtrust's key id (what Distribution 2.x and GitLab put in `kid`): the first 240 bits of SHA-256 over the DER
 * SubjectPublicKeyInfo, base32, in twelve colon-separated groups of four.
 */
export function libtrustKeyId(key: KeyObject): string {
  const digest = createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32Alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return (out.match(/.{4}/g) ?? []).join(':');
}

const jwksSchema = z.object({
  keys: z.array(
    z.looseObject({
      kty: z.string(),
      kid: z.string().optional(),
      use: z.string().optional(),
      alg: z.string().optional(),
    }),
  ),
});

async function loadJwks(path: string, store: TrustStore): Promise<number> {
  let parsed: z.infer<typeof jwksSchema>;
  try {
    parsed = jwksSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    throw new Error(`auth.token.jwks: ${path} is not a JSON Web Key Set: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let count = 0;
  for (const [i, jwk] of parsed.keys.entries()) {
    if (jwk.use === 'enc') continue;
    if (jwk.kty === 'oct') {
      throw new Error(
        `auth.token.jwks: key ${jwk.kid ?? i} is symmetric; the registry only holds public keys`,
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (err) {
      throw new Error(`auth.token.jwks: key ${jwk.kid ?? i} is not a usable public key`, { cause: err });
    }
    const trusted: TrustedKey = jwk.alg ? { key, alg: jwk.alg } : { key };
    const thumbprint = await jwkThumbprint(key);
    store.keys.set(jwk.kid ?? thumbprint, trusted);
    store.thumbprints.set(thumbprint, trusted);
    count++;
  }
  return count;
}

export async function loadTrustStore(sources: TrustSources): Promise<TrustStore> {
  const store: TrustStore = { roots: [], keys: new Map(), thumbprints: new Map() };
  if (sources.rootcertbundle) {
    let pem: string;
    try {
      pem = await readFile(sources.rootcertbundle, 'utf8');
    } catch (err) {
      throw new Error(`auth.token.rootcertbundle: cannot read ${sources.rootcertbundle}`, { cause: err });
    }
    try {
      store.roots = parsePemCertificates(pem);
    } catch (err) {
      throw new Error(
        `auth.token.rootcertbundle: ${sources.rootcertbundle} holds an unparsable certificate`,
        {
          cause: err,
        },
      );
    }
    for (const cert of store.roots) {
      const trusted: TrustedKey = { key: cert.publicKey };
      const thumbprint = await jwkThumbprint(cert.publicKey);
      store.keys.set(thumbprint, trusted);
      store.keys.set(libtrustKeyId(cert.publicKey), trusted);
      store.thumbprints.set(thumbprint, trusted);
    }
  }
  const jwksKeys = sources.jwks ? await loadJwks(sources.jwks, store) : 0;
  if (store.roots.length === 0 && jwksKeys === 0) {
    throw new Error(
      'auth.token: token auth requires at least one token signing key (rootcertbundle or jwks)',
    );
  }
  return store;
}
