// Registry-side token auth (Distribution's `auth.token`): verifies the Bearer JWT a token issuer signed and
// checks its `access` claim against what the route needs. The registry holds only certificates and public keys.
//
// Key resolution, in Distribution v3's order: an `x5c` header must chain to a rootcertbundle certificate (no
// fallback when it does not); else a `jwk` header is used only when it is trusted (its own `x5c` chains to the
// bundle and matches it, or its thumbprint/kid names a trusted key, which is then used instead of the header's);
// else `kid` names a JWKS key or the RFC 7638 thumbprint (or libtrust id) of a bundle certificate.
// Symmetric algorithms are never accepted: with only public keys configured, HS* could only "verify" against a
// key an attacker knows too (the classic alg-confusion attack), so they are dropped from `signingalgorithms`.
//
// Revocation: Berth's issuer puts the access token's fingerprint (`fpr`, which changes with its secret) into the
// tokens it signs for it. Where the registry can see the issuer's access tokens (`berth-registry standalone`),
// `isRevoked` refuses tokens whose access token was revoked or re-created since, on every request (not cached).
// A registry with a separate issuer cannot know, and accepts such tokens until they expire.
import { createPublicKey, type JsonWebKey, type X509Certificate } from 'node:crypto';
import { jwtVerify, type CompactJWSHeaderParameters, type JWK } from 'jose';
import { z } from 'zod';
import { CertificateChainError, parseX5c, verifyChain } from './cert-chain.ts';
import { unauthorized, type ChallengeError } from './challenge.ts';
import { watchFiles, type FileWatcher } from './file-watch.ts';
import { jwkThumbprint, loadTrustStore, type TrustedKey, type TrustStore } from './keys.ts';
import { silentLogger, type AuthLogger } from './logger.ts';
import { AccessSet, accessEntrySchema } from './scope.ts';
import { TtlCache } from './ttl-cache.ts';
import type { AccessRequest, AuthContext, Authorizer, AuthRequestInfo } from './types.ts';

/** Clock skew allowed on `exp` and `nbf`, as Distribution. */
export const leewaySeconds = 60;

const asymmetricAlgorithms = [
  'EdDSA',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
const symmetricAlgorithms = ['HS256', 'HS384', 'HS512'];

/** Distribution's `auth.token` keys (the HTTP layer passes the parsed config section through). */
export const tokenAuthConfigSchema = z.object({
  realm: z.string().min(1),
  service: z.string().min(1),
  issuer: z.string().min(1),
  rootcertbundle: z.string().min(1).optional(),
  jwks: z.string().min(1).optional(),
  signingalgorithms: z.array(z.string()).optional(),
  autoredirect: z.boolean().optional(),
  autoredirectpath: z.string().startsWith('/').optional(),
});
export type TokenAuthConfig = z.input<typeof tokenAuthConfigSchema>;

export interface TokenAuthorizerOptions extends TokenAuthConfig {
  logger?: AuthLogger;
  /** Poll rootcertbundle/jwks for changes and reload them (Kubernetes Secret rotation). Off when unset. */
  watchIntervalMs?: number;
  /** Verified tokens are cached until min(exp, now + this); 0 disables the cache. Default 60 s. */
  cacheMs?: number;
  /** Time source (tests and simulations). */
  clock?: () => Date;
  /** True when the access token (`sub` and `fpr` claims) a bearer token was issued for is revoked. */
  isRevoked?: (credential: { subject: string; fingerprint: string }) => boolean;
}

export interface TokenAuthorizer extends Authorizer {
  reload(): Promise<void>;
}

const claimsSchema = z.looseObject({
  sub: z.string().optional(),
  exp: z.number(),
  access: z.array(accessEntrySchema).nullish(),
  fpr: z.string().optional(),
});

interface VerifiedToken {
  subject?: string;
  /** The issuing access token's fingerprint, when the issuer named one. */
  fingerprint?: string;
  access: AccessSet;
}

/** Distribution's default, less the symmetric algorithms that can never verify against public keys. */
function resolveAlgorithms(configured: readonly string[] | undefined): string[] {
  if (!configured || configured.length === 0) return [...asymmetricAlgorithms];
  const known = new Set<string>([...asymmetricAlgorithms, ...symmetricAlgorithms]);
  for (const alg of configured) {
    if (!known.has(alg)) {
      throw new Error(`auth.token.signingalgorithms: unsupported signing algorithm ${alg}`);
    }
  }
  const usable = configured.filter((alg) => !symmetricAlgorithms.includes(alg));
  if (usable.length === 0) {
    throw new Error(
      'auth.token.signingalgorithms: only symmetric algorithms listed; the registry verifies with public keys',
    );
  }
  return usable;
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const token = authorization.slice(space + 1).trim();
  return token === '' ? undefined : token;
}

class InvalidTokenError extends Error {}

export async function createTokenAuthorizer(options: TokenAuthorizerOptions): Promise<TokenAuthorizer> {
  const config = tokenAuthConfigSchema.parse(options);
  const algorithms = resolveAlgorithms(config.signingalgorithms);
  const log = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const cacheMs = options.cacheMs ?? 60_000;
  const sources = { rootcertbundle: config.rootcertbundle, jwks: config.jwks };
  let store: TrustStore = await loadTrustStore(sources);
  let generation = 0;
  const cache = new TtlCache<VerifiedToken>(1024, () => clock().getTime());
  const autoRedirectPath = config.autoredirectpath ?? '/auth/token';

  async function reload(): Promise<void> {
    const next = await loadTrustStore(sources);
    store = next;
    // A cached token may have been verified with a key that is no longer trusted; verifications still in
    // flight against the old store must not be cached either.
    generation++;
    cache.clear();
    log.info({ roots: next.roots.length, keys: next.keys.size }, 'token auth keys reloaded');
  }

  async function trustedJwk(jwk: JWK, trust: TrustStore, now: Date): Promise<TrustedKey> {
    const thumbprint = await jwkThumbprint(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    if (Array.isArray(jwk.x5c) && jwk.x5c.length > 0) {
      const leaf = verifyChain(parseX5c(jwk.x5c), trust.roots, now);
      if ((await jwkThumbprint(leaf.publicKey)) !== thumbprint) {
        throw new InvalidTokenError('jwk header does not match its certificate');
      }
      return { key: leaf.publicKey };
    }
    const trusted = trust.thumbprints.get(thumbprint) ?? (jwk.kid ? trust.keys.get(jwk.kid) : undefined);
    if (!trusted) throw new InvalidTokenError('untrusted jwk header');
    return trusted;
  }

  async function verify(raw: string): Promise<VerifiedToken> {
    const now = clock();
    const cached = cache.get(raw);
    if (cached) return cached;
    const trust = store;
    const verifiedIn = generation;
    let leaf: X509Certificate | undefined;
    const resolveKey = async (header: CompactJWSHeaderParameters) => {
      let trusted: TrustedKey;
      if (header.x5c !== undefined) {
        leaf = verifyChain(parseX5c(header.x5c), trust.roots, now);
        return leaf.publicKey;
      } else if (header.jwk !== undefined) {
        trusted = await trustedJwk(header.jwk, trust, now);
      } else if (header.kid) {
        const byId = trust.keys.get(header.kid);
        if (!byId) throw new InvalidTokenError(`token signed by untrusted key with ID ${header.kid}`);
        trusted = byId;
      } else {
        throw new InvalidTokenError('token names no signing key (x5c, jwk or kid)');
      }
      if (trusted.alg && trusted.alg !== header.alg) {
        throw new InvalidTokenError('alg does not match the JWKS key');
      }
      return trusted.key;
    };
    const { payload } = await jwtVerify(raw, resolveKey, {
      algorithms,
      issuer: config.issuer,
      audience: config.service,
      clockTolerance: leewaySeconds,
      requiredClaims: ['exp'],
      currentDate: now,
    });
    const claims = claimsSchema.parse(payload);
    const verified: VerifiedToken = { access: new AccessSet(claims.access ?? []) };
    if (claims.sub !== undefined && claims.sub !== '') verified.subject = claims.sub;
    if (claims.fpr !== undefined) verified.fingerprint = claims.fpr;
    if (cacheMs > 0 && verifiedIn === generation) {
      // Never past exp (leeway is re-checked by a fresh verification) nor past the signing certificate's end.
      let until = Math.min(claims.exp * 1000, now.getTime() + cacheMs);
      if (leaf) until = Math.min(until, leaf.validToDate.getTime());
      cache.set(raw, verified, until);
    }
    return verified;
  }

  function realmFor(request: AuthRequestInfo | undefined): string {
    if (!config.autoredirect || !request?.host) return config.realm;
    const proto = request.forwardedProto?.split(',')[0]?.trim().toLowerCase();
    const scheme = proto === 'http' || proto === 'https' ? proto : 'https';
    return `${scheme}://${request.host}${autoRedirectPath}`;
  }

  function challenge(
    access: readonly AccessRequest[],
    request: AuthRequestInfo | undefined,
    error?: ChallengeError,
  ) {
    const params = { realm: realmFor(request), service: config.service, access };
    return unauthorized(error ? { ...params, error } : params);
  }

  const watcher: FileWatcher | undefined = options.watchIntervalMs
    ? await watchFiles(
        [config.rootcertbundle, config.jwks].filter((p): p is string => p !== undefined),
        options.watchIntervalMs,
        reload,
        (err) => log.error({ err }, 'token auth keys could not be reloaded; the previous keys stay in force'),
      )
    : undefined;

  return {
    async authorize(authorization, access, request): Promise<AuthContext> {
      const raw = bearerToken(authorization);
      if (!raw) throw challenge(access, request);
      let token: VerifiedToken;
      try {
        token = await verify(raw);
      } catch (err) {
        // jose errors carry a code (and the failing claim); never the token itself.
        const { code, claim } = err as { code?: string; claim?: string };
        const reason =
          err instanceof InvalidTokenError || err instanceof CertificateChainError
            ? err.message
            : `${code ?? (err as Error).name}${claim ? ` (${claim})` : ''}`;
        log.debug({ reason }, 'bearer token rejected');
        throw challenge(access, request, 'invalid_token');
      }
      if (
        token.subject !== undefined &&
        token.fingerprint !== undefined &&
        options.isRevoked?.({ subject: token.subject, fingerprint: token.fingerprint })
      ) {
        log.debug({ subject: token.subject }, 'bearer token rejected: its access token was revoked');
        throw challenge(access, request, 'invalid_token');
      }
      if (!access.every((a) => token.access.allows(a))) {
        throw challenge(access, request, 'insufficient_scope');
      }
      const context: AuthContext = { allows: (a) => token.access.allows(a) };
      if (token.subject !== undefined) context.subject = token.subject;
      return context;
    },
    async reload() {
      await reload();
      await watcher?.reset();
    },
    close() {
      watcher?.close();
      cache.clear();
      return Promise.resolve();
    },
  };
}
