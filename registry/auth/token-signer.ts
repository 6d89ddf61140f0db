// The issuer's signing key and certificate, and the JWTs it signs: access tokens for the registry (header `x5c`
// with the certificate chain and `kid` with the key's RFC 7638 thumbprint, so registries configured with a
// rootcertbundle or with a JWKS both verify them) and refresh tokens for the OAuth2 flow.
//
// Refresh tokens are JWTs signed with the same key but addressed to a different audience, so a registry
// (whose audience is the service) rejects them as access tokens. They carry no grants: every refresh re-reads
// the access token they were issued for, and a changed secret, a removal or an expiry ends them. They are
// signed by the current key, so rotating the issuer key logs Docker clients out (they log in again).
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { jwkThumbprint, parsePemCertificates } from './keys.ts';
import type { AccessEntry } from './scope.ts';

export const refreshTokenAudience = 'urn:berth:refresh-token';
const refreshTokenType = 'rt+jwt';

export const signingAlgorithms = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

export interface SignerSources {
  /** PEM private key (PKCS#8, SEC1 or PKCS#1). */
  signingKey: string;
  /** PEM certificate for the key, optionally followed by its intermediates: the `x5c` chain. */
  certificate: string;
  /** Defaults by key type: P-256 ES256, P-384 ES384, P-521 ES512, RSA RS256, RSA-PSS PS256, Ed25519 EdDSA. */
  algorithm?: SigningAlgorithm;
}

export interface SignedAccessToken {
  token: string;
  issuedAt: Date;
  expiresIn: number;
}

const refreshClaimsSchema = z.object({
  sub: z.string().min(1),
  service: z.string(),
  fpr: z.string(),
  exp: z.number().optional(),
});
export type RefreshClaims = z.infer<typeof refreshClaimsSchema>;

function defaultAlgorithm(key: KeyObject): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
      if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
      if (curve === 'secp521r1' || curve === 'P-521') return 'ES512';
      throw new Error(`signing key uses the unsupported curve ${String(curve)}`);
    }
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`signing key type ${String(key.asymmetricKeyType)} is not supported`);
  }
}

export class TokenSigner {
  readonly algorithm: SigningAlgorithm;
  /** RFC 7638 thumbprint of the public key. */
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #x5c: string[];

  private constructor(algorithm: SigningAlgorithm, keyId: string, privateKey: KeyObject, x5c: string[]) {
    this.algorithm = algorithm;
    this.keyId = keyId;
    this.#privateKey = privateKey;
    this.#publicKey = createPublicKey(privateKey);
    this.#x5c = x5c;
  }

  /** Loads and cross-checks key and certificate; throws (naming the files, never their content) when unusable. */
  static async load(sources: SignerSources): Promise<TokenSigner> {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(await readFile(sources.signingKey));
    } catch (err) {
      throw new Error(`signing key ${sources.signingKey} cannot be read as a PEM private key`, {
        cause: err,
      });
    }
    const chain = parsePemCertificates(await readFile(sources.certificate, 'utf8'));
    const leaf = chain[0];
    if (!leaf) throw new Error(`certificate file ${sources.certificate} holds no certificate`);
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(privateKey)).equals(spki(leaf.publicKey))) {
      throw new Error(`certificate ${sources.certificate} is not for the key ${sources.signingKey}`);
    }
    const algorithm = sources.algorithm ?? defaultAlgorithm(privateKey);
    const x5c = chain.map((c) => c.raw.toString('base64'));
    return new TokenSigner(algorithm, await jwkThumbprint(leaf.publicKey), privateKey, x5c);
  }

  /** Key and certificate chain as PEM text (the operator holds them in a Secret); throws when unusable. */
  static async fromPem(privateKeyPem: string, certificatePem: string): Promise<TokenSigner> {
    const privateKey = createPrivateKey(privateKeyPem);
    const leaf = parsePemCertificates(certificatePem)[0];
    if (!leaf) throw new Error('the certificate PEM holds no certificate');
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(privateKey)).equals(spki(leaf.publicKey))) {
      throw new Error('the certificate is not for the signing key');
    }
    const x5c = parsePemCertificates(certificatePem).map((c) => c.raw.toString('base64'));
    return new TokenSigner(
      defaultAlgorithm(privateKey),
      await jwkThumbprint(leaf.publicKey),
      privateKey,
      x5c,
    );
  }

  async signAccessToken(claims: {
    issuer: string;
    service: string;
    subject?: string;
    /** The access token's fingerprint (`fpr`): lets a registry that sees the issuer's tokens notice a revoke. */
    fingerprint?: string;
    access: AccessEntry[];
    lifetimeSeconds: number;
    /** The credential's own expiry: tokens never outlive it. */
    notAfter?: Date;
    now?: Date;
  }): Promise<SignedAccessToken> {
    const issuedAt = claims.now ?? new Date();
    const iat = Math.floor(issuedAt.getTime() / 1000);
    let exp = iat + claims.lifetimeSeconds;
    if (claims.notAfter) exp = Math.min(exp, Math.floor(claims.notAfter.getTime() / 1000));
    const payload = {
      iss: claims.issuer,
      ...(claims.subject !== undefined ? { sub: claims.subject } : {}),
      aud: claims.service,
      exp,
      nbf: iat,
      iat,
      jti: randomBytes(16).toString('base64url'),
      access: claims.access,
      ...(claims.fingerprint !== undefined ? { fpr: claims.fingerprint } : {}),
    };
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: this.algorithm, typ: 'JWT', kid: this.keyId, x5c: this.#x5c })
      .sign(this.#privateKey);
    return { token, issuedAt: new Date(iat * 1000), expiresIn: exp - iat };
  }

  async signRefreshToken(claims: {
    issuer: string;
    service: string;
    subject: string;
    /** Fingerprint of the credential's secret. */
    fingerprint: string;
    expiresAt?: Date;
  }): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const payload = {
      iss: claims.issuer,
      sub: claims.subject,
      aud: refreshTokenAudience,
      service: claims.service,
      fpr: claims.fingerprint,
      iat,
      jti: randomBytes(16).toString('base64url'),
      ...(claims.expiresAt ? { exp: Math.floor(claims.expiresAt.getTime() / 1000) } : {}),
    };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: this.algorithm, typ: refreshTokenType })
      .sign(this.#privateKey);
  }

  /** The refresh token's claims when this key signed it for `issuer`; throws otherwise. */
  async verifyRefreshToken(token: string, issuer: string): Promise<RefreshClaims> {
    const { payload } = await jwtVerify(token, this.#publicKey, {
      algorithms: [this.algorithm],
      issuer,
      audience: refreshTokenAudience,
      typ: refreshTokenType,
    });
    return refreshClaimsSchema.parse(payload);
  }
}
