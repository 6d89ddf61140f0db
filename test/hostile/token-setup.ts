// A registry-side token setup for the hostile tests: a signing key made in process, its certificate as the
// registry's rootcertbundle, the real token authorizer, and a signer for correct tokens to compare against.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKeyPair, type SigningKeyPair } from '../../registry/auth/keypair.ts';
import { TokenSigner } from '../../registry/auth/token-signer.ts';
import {
  createTokenAuthorizer,
  type TokenAuthorizer,
  type TokenAuthorizerOptions,
} from '../../registry/auth/token-verifier.ts';
import type { AccessEntry } from '../../registry/auth/scope.ts';

export const service = 'hostile.registry.test';
export const issuer = 'hostile-issuer';
export const realm = 'http://127.0.0.1:1/auth/token';

export interface TokenSetup {
  pair: SigningKeyPair;
  signer: TokenSigner;
  authorizer: TokenAuthorizer;
  /** A correct token from the trusted key for `access`. */
  sign(access: AccessEntry[], claims?: { subject?: string; fingerprint?: string }): Promise<string>;
}

export async function tokenSetup(
  dir: string,
  options: Pick<TokenAuthorizerOptions, 'isRevoked'> & {
    /** More certificates (PEM) in the rootcertbundle: a bundle holding several keys, as during rotation. */
    extraTrusted?: string[];
  } = {},
): Promise<TokenSetup> {
  const pair = await generateSigningKeyPair({ commonName: issuer });
  const bundle = join(dir, 'token.crt');
  await writeFile(bundle, [pair.certificatePem, ...(options.extraTrusted ?? [])].join('\n'));
  const signer = await TokenSigner.fromPem(pair.privateKeyPem, pair.certificatePem);
  const authorizer = await createTokenAuthorizer({
    realm,
    service,
    issuer,
    rootcertbundle: bundle,
    // Every request is verified afresh: a cached verdict would hide what the verifier does with each token.
    cacheMs: 0,
    ...(options.isRevoked ? { isRevoked: options.isRevoked } : {}),
  });
  return {
    pair,
    signer,
    authorizer,
    async sign(access, claims = {}) {
      const { token } = await signer.signAccessToken({
        issuer,
        service,
        access,
        lifetimeSeconds: 300,
        ...(claims.subject !== undefined ? { subject: claims.subject } : {}),
        ...(claims.fingerprint !== undefined ? { fingerprint: claims.fingerprint } : {}),
      });
      return token;
    },
  };
}
