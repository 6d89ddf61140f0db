// Kubernetes ServiceAccount logins: `docker login -u serviceaccount -p <ServiceAccount token>` (the username
// `serviceaccount` is reserved for this). The token is checked with the API server's TokenReview API.
//
// Namespace → repository rule: the ServiceAccount `system:serviceaccount:<namespace>:<name>` may pull and push
// repositories under `<namespace>/` (the pattern `<namespace>/**`), never delete, never list the catalog; like
// everyone it may pull the `public` repositories. `namespaces`, when set, limits which namespaces may log in.
//
// The client speaks HTTPS with node:https rather than fetch: fetch cannot take a per-request CA (the cluster
// CA) without the undici package, and trusting it process-wide would also trust it for storage backends.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import type { Principal } from './grants.ts';
import { http } from '../node-http.ts';
import { compilePattern } from './patterns.ts';
import { TtlCache } from './ttl-cache.ts';

export const serviceAccountUsername = 'serviceaccount';

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  /** `system:serviceaccount:<namespace>:<name>`, used as the access token's `sub`. */
  username: string;
}

export interface ServiceAccountAuthenticator {
  /** The identity when the API server says the token is a valid ServiceAccount token; undefined otherwise. */
  authenticate(token: string): Promise<ServiceAccountIdentity | undefined>;
}

export interface TokenReviewOptions {
  /** e.g. `https://kubernetes.default.svc`. */
  apiServer: string;
  /** The issuer's own credential for the TokenReview call: a literal, or a file re-read on use (it rotates). */
  bearerToken?: string;
  tokenFile?: string;
  /** PEM CA bundle for the API server, literal or file. */
  ca?: string;
  caFile?: string;
  /** Audiences the reviewed token must be valid for (TokenReview `spec.audiences`). */
  audiences?: string[];
  namespaces?: string[];
  timeoutMs?: number;
  /** How long a successful review is reused; default 30 s. */
  cacheMs?: number;
}

/** The API server could not answer: the issuer reports 503, not a failed login. */
export class TokenReviewUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenReviewUnavailableError';
  }
}

const tokenReviewResponseSchema = z.object({
  status: z
    .object({
      authenticated: z.boolean().optional(),
      user: z.object({ username: z.string().optional() }).optional(),
      audiences: z.array(z.string()).optional(),
    })
    .optional(),
});

const serviceAccountUser =
  /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function serviceAccountPrincipal(identity: ServiceAccountIdentity): Principal {
  return {
    kind: 'service-account',
    subject: identity.username,
    rules: [{ patterns: [compilePattern(`${identity.namespace}/**`)], actions: new Set(['pull', 'push']) }],
    catalog: false,
  };
}

function postJson(
  url: URL,
  body: unknown,
  headers: Record<string, string>,
  ca: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  const options = {
    method: 'POST',
    headers: {
      ...headers,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'Content-Length': String(payload.length),
    },
    timeout: timeoutMs,
    ...(ca ? { ca } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : http.request)(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 1 << 20) req.destroy(new Error('TokenReview response too large'));
        else chunks.push(chunk);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`TokenReview timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function createTokenReviewClient(options: TokenReviewOptions): ServiceAccountAuthenticator {
  const endpoint = new URL('/apis/authentication.k8s.io/v1/tokenreviews', options.apiServer);
  const cache = new TtlCache<ServiceAccountIdentity>(1024);
  const cacheMs = options.cacheMs ?? 30_000;
  const namespaces = options.namespaces ? new Set(options.namespaces) : undefined;

  async function credentials(): Promise<{ token?: string; ca?: string }> {
    const token = options.tokenFile
      ? (await readFile(options.tokenFile, 'utf8')).trim()
      : options.bearerToken;
    const ca = options.caFile ? await readFile(options.caFile, 'utf8') : options.ca;
    return { ...(token ? { token } : {}), ...(ca ? { ca } : {}) };
  }

  return {
    async authenticate(token) {
      if (!jwtShape.test(token)) return undefined;
      const key = createHash('sha256').update(token).digest('base64');
      const cached = cache.get(key);
      if (cached) return cached;
      let response: { status: number; body: string };
      try {
        const { token: own, ca } = await credentials();
        const spec = { token, ...(options.audiences ? { audiences: options.audiences } : {}) };
        response = await postJson(
          endpoint,
          { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec },
          own ? { Authorization: `Bearer ${own}` } : {},
          ca,
          options.timeoutMs ?? 5000,
        );
      } catch (err) {
        throw new TokenReviewUnavailableError(`TokenReview request failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (response.status !== 200 && response.status !== 201) {
        throw new TokenReviewUnavailableError(`TokenReview answered HTTP ${response.status}`);
      }
      let parsed: z.infer<typeof tokenReviewResponseSchema>;
      try {
        parsed = tokenReviewResponseSchema.parse(JSON.parse(response.body));
      } catch (err) {
        throw new TokenReviewUnavailableError('TokenReview answered with an unexpected body', { cause: err });
      }
      const status = parsed.status;
      if (!status?.authenticated) return undefined;
      if (options.audiences && !status.audiences?.some((a) => options.audiences?.includes(a))) {
        return undefined;
      }
      const match = serviceAccountUser.exec(status.user?.username ?? '');
      if (!match?.[1] || !match[3]) return undefined;
      const identity: ServiceAccountIdentity = { namespace: match[1], name: match[3], username: match[0] };
      if (namespaces && !namespaces.has(identity.namespace)) return undefined;
      cache.set(key, identity, Date.now() + cacheMs);
      return identity;
    },
  };
}
