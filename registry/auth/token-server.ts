// The token issuer (`berth-registry token-server CONFIG`): authenticates clients and signs short-lived registry
// tokens, per the Docker token spec (GET with Basic auth or anonymous) and its OAuth2 variant (POST form with
// the password and refresh_token grants), which is what `docker login` uses: it posts grant_type=password with
// access_type=offline, stores the refresh_token as its identity token, and later uses grant_type=refresh_token.
//
// Identities: access tokens (access-tokens.ts), Kubernetes ServiceAccounts (service-account.ts), anonymous.
// The token holds the intersection of what was asked and what is allowed (grants.ts); never an error for that.
// Failed logins are limited per account and client address (rate-limit.ts). Tokens, passwords and hashes are
// never logged. Access tokens it signs for an access token carry that token's fingerprint (`fpr`), so a registry
// that shares this service (standalone) refuses them once the access token is revoked (`isRevoked`).
import { readFile } from 'node:fs/promises';
import fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Logger } from 'pino';
import { createLogger, type LogFormatter, type LogStream } from '../logger.ts';
import { AccessTokenStore, type AccessTokenRecord } from './access-tokens.ts';
import { watchFiles, type FileWatcher } from './file-watch.ts';
import { anonymous, grantAccess, publicPullRule, type Principal } from './grants.ts';
import { silentLogger, type AuthLogger } from './logger.ts';
import { FailedLoginLimiter } from './rate-limit.ts';
import { formatScopes, parseScopes } from './scope.ts';
import {
  createTokenReviewClient,
  serviceAccountPrincipal,
  serviceAccountUsername,
  TokenReviewUnavailableError,
  type ServiceAccountAuthenticator,
} from './service-account.ts';
import { parseListenAddress, type TokenServerConfig } from './token-server-config.ts';
import { TokenSigner } from './token-signer.ts';
import { noSchemaCompilers } from '../http/no-schema-compilers.ts';

/** A token request, whatever its transport: query parameters (GET) or form fields (POST) in `params`. */
export interface TokenRequest {
  method: 'GET' | 'POST';
  clientAddress: string;
  authorization?: string;
  params: URLSearchParams;
}

export interface TokenReply {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface TokenService {
  handle(request: TokenRequest): Promise<TokenReply>;
  /** Re-reads signing key, certificate and access tokens (SIGHUP); keeps the old ones if the new do not load. */
  reload(): Promise<void>;
  /**
   * True when the access token `subject` no longer exists with the secret `fingerprint` stands for: revoked,
   * re-created or expired (as the issuer's access-token file says now, re-read every `reloadInterval`).
   */
  isRevoked(credential: { subject: string; fingerprint: string }): boolean;
  close(): Promise<void>;
}

export interface TokenServiceOptions {
  logger?: AuthLogger;
  /** Replaces the TokenReview client built from `config.kubernetes`. */
  serviceAccounts?: ServiceAccountAuthenticator;
  clock?: () => Date;
}

/** The issuer's error codes; bodies have the registry's `{"errors":[...]}` shape, which Docker prints. */
const tokenErrors = {
  INVALID_REQUEST: { status: 400, oauth: 'invalid_request' },
  UNSUPPORTED_GRANT_TYPE: { status: 400, oauth: 'unsupported_grant_type' },
  UNAUTHORIZED: { status: 401, oauth: 'invalid_grant' },
  TOOMANYREQUESTS: { status: 429, oauth: 'invalid_request' },
  UNAVAILABLE: { status: 503, oauth: 'temporarily_unavailable' },
} as const;
type TokenErrorCode = keyof typeof tokenErrors;

const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

function errorReply(code: TokenErrorCode, message: string, headers: Record<string, string> = {}): TokenReply {
  const { status, oauth } = tokenErrors[code];
  // `error`/`error_description` for OAuth2 clients (RFC 6749 §5.2); `errors` for Docker's error parser.
  return {
    status,
    headers: { ...noStore, ...headers },
    body: { errors: [{ code, message }], error: oauth, error_description: message },
  };
}

function parseBasic(
  authorization: string | undefined,
): { username: string; password: string } | null | undefined {
  if (!authorization) return undefined;
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(authorization.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The limiter's account for refresh-token grants (their subject is only known once verified). */
const refreshAccount = '(refresh token)';

type Credentials =
  | { kind: 'anonymous' }
  | { kind: 'password'; username: string; password: string }
  | { kind: 'refresh'; refreshToken: string }
  | { kind: 'invalid'; reply: TokenReply };

/** Which credentials a request carries, per transport and grant type. */
function credentialsOf(request: TokenRequest): Credentials {
  const basic = parseBasic(request.authorization);
  if (basic === null) {
    return { kind: 'invalid', reply: errorReply('UNAUTHORIZED', 'malformed Basic credentials') };
  }
  const params = request.params;
  if (request.method === 'POST') {
    const grantType = params.get('grant_type') ?? '';
    if (grantType === 'password') {
      const username = params.get('username') ?? basic?.username;
      const password = params.get('password') ?? basic?.password;
      if (!username || !password) {
        return {
          kind: 'invalid',
          reply: errorReply('INVALID_REQUEST', 'username and password are required'),
        };
      }
      return { kind: 'password', username, password };
    }
    if (grantType === 'refresh_token') {
      const refreshToken = params.get('refresh_token');
      if (!refreshToken) {
        return { kind: 'invalid', reply: errorReply('INVALID_REQUEST', 'refresh_token is required') };
      }
      return { kind: 'refresh', refreshToken };
    }
    if (grantType !== '') {
      return {
        kind: 'invalid',
        reply: errorReply('UNSUPPORTED_GRANT_TYPE', `grant_type ${grantType} is not supported`),
      };
    }
  }
  return basic && basic.password !== '' ? { kind: 'password', ...basic } : { kind: 'anonymous' };
}

export async function createTokenService(
  config: TokenServerConfig,
  options: TokenServiceOptions = {},
): Promise<TokenService> {
  const log = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const signerSources = {
    signingKey: config.signingKey,
    certificate: config.certificate,
    algorithm: config.algorithm,
  };
  let signer = await TokenSigner.load(signerSources);
  const watchMs = config.reloadInterval * 1000;
  const accessTokens = config.accessTokenFile
    ? await AccessTokenStore.open(config.accessTokenFile, {
        logger: log,
        watchIntervalMs: watchMs,
        clock,
      })
    : undefined;
  const serviceAccounts =
    options.serviceAccounts ??
    (config.kubernetes
      ? createTokenReviewClient({
          apiServer: config.kubernetes.apiServer,
          tokenFile: config.kubernetes.tokenFile,
          ...(config.kubernetes.caFile ? { caFile: config.kubernetes.caFile } : {}),
          ...(config.kubernetes.audiences ? { audiences: config.kubernetes.audiences } : {}),
          ...(config.kubernetes.namespaces ? { namespaces: config.kubernetes.namespaces } : {}),
          cacheMs: config.kubernetes.cacheSeconds * 1000,
        })
      : undefined);
  const limiter = new FailedLoginLimiter({
    maxFailures: config.rateLimit.maxFailures,
    windowMs: config.rateLimit.window * 1000,
    maxClients: config.rateLimit.maxClients,
    now: () => clock().getTime(),
  });
  const publicRule = publicPullRule(config.public);
  const basicChallenge = { 'WWW-Authenticate': `Basic realm=${JSON.stringify(config.service)}` };

  async function reloadSigner(): Promise<void> {
    signer = await TokenSigner.load(signerSources);
    log.info({ kid: signer.keyId, alg: signer.algorithm }, 'signing key loaded');
  }
  const keyWatcher: FileWatcher | undefined =
    watchMs > 0
      ? await watchFiles([config.signingKey, config.certificate], watchMs, reloadSigner, (err) =>
          log.error(
            { reason: (err as Error).message },
            'signing key not reloaded; the previous key stays in force',
          ),
        )
      : undefined;
  log.info(
    { kid: signer.keyId, alg: signer.algorithm, accessTokens: accessTokens?.size ?? 0 },
    'token issuer ready',
  );

  type Authenticated = { principal: Principal; record?: AccessTokenRecord } | TokenReply;

  async function authenticatePassword(
    username: string,
    password: string,
  ): Promise<Authenticated | undefined> {
    if (username === serviceAccountUsername) {
      if (!serviceAccounts) return undefined;
      try {
        const identity = await serviceAccounts.authenticate(password);
        return identity ? { principal: serviceAccountPrincipal(identity) } : undefined;
      } catch (err) {
        if (!(err instanceof TokenReviewUnavailableError)) throw err;
        log.error({ reason: err.message }, 'TokenReview failed');
        return errorReply('UNAVAILABLE', 'cannot verify ServiceAccount tokens right now');
      }
    }
    const record = await accessTokens?.authenticate(username, password);
    if (record === 'expired') {
      log.warn({ account: username }, 'login with an expired access token');
      return errorReply('UNAUTHORIZED', `access token ${username} has expired`, basicChallenge);
    }
    return record ? { principal: record.principal, record } : undefined;
  }

  async function authenticateRefresh(
    refreshToken: string,
    service: string,
  ): Promise<Authenticated | undefined> {
    try {
      const claims = await signer.verifyRefreshToken(refreshToken, config.issuer);
      const record = accessTokens?.lookup(claims.sub);
      if (claims.service !== service || !record || record.fingerprint !== claims.fpr) return undefined;
      return { principal: record.principal, record };
    } catch {
      return undefined;
    }
  }

  async function handle(request: TokenRequest): Promise<TokenReply> {
    const params = request.params;
    const service = params.get('service') ?? config.service;
    if (service !== config.service) {
      return errorReply('INVALID_REQUEST', `this issuer signs tokens for the service ${config.service}`);
    }
    const credentials = credentialsOf(request);
    if (credentials.kind === 'invalid') return credentials.reply;
    const client = request.clientAddress;

    let authenticated: Authenticated | undefined = { principal: anonymous };
    if (credentials.kind !== 'anonymous') {
      const [limited, secret] =
        credentials.kind === 'password'
          ? [credentials.username, credentials.password]
          : [refreshAccount, credentials.refreshToken];
      // Names that are no account are not echoed into the log (they may be a mistyped secret).
      const account =
        credentials.kind === 'password' &&
        (accessTokens?.has(credentials.username) || credentials.username === serviceAccountUsername)
          ? credentials.username
          : '(unknown)';
      const retryAfter = limiter.retryAfter(client, limited);
      if (retryAfter > 0) {
        log.warn({ client, account, retryAfter }, 'login refused: too many failed attempts');
        return errorReply('TOOMANYREQUESTS', `too many failed login attempts; try again in ${retryAfter} s`, {
          'Retry-After': String(retryAfter),
        });
      }
      authenticated =
        credentials.kind === 'password'
          ? await authenticatePassword(credentials.username, credentials.password)
          : await authenticateRefresh(credentials.refreshToken, service);
      if (!authenticated) {
        // A client's second request for the same attempt (POST, then GET) is not another failure.
        const counted = limiter.recordFailure(client, limited, secret);
        log.warn(
          { client, grant: credentials.kind, account, ...(counted ? {} : { repeated: true }) },
          'login failed',
        );
        return errorReply(
          'UNAUTHORIZED',
          credentials.kind === 'refresh'
            ? 'invalid or expired refresh token'
            : 'incorrect username or password',
          basicChallenge,
        );
      }
    }
    if ('status' in authenticated) return authenticated;
    if (credentials.kind === 'password') limiter.recordSuccess(client, credentials.username);
    else if (credentials.kind === 'refresh') limiter.recordSuccess(client, refreshAccount);

    const { principal, record } = authenticated;
    const access = grantAccess(parseScopes(params.getAll('scope')), principal, publicRule);
    const now = clock();
    const signed = await signer.signAccessToken({
      issuer: config.issuer,
      service,
      ...(principal.subject !== undefined ? { subject: principal.subject } : {}),
      ...(record ? { fingerprint: record.fingerprint } : {}),
      access,
      lifetimeSeconds: config.lifetime,
      ...(record?.expiresAt ? { notAfter: record.expiresAt } : {}),
      now,
    });
    const body: Record<string, unknown> = {
      token: signed.token,
      access_token: signed.token,
      expires_in: signed.expiresIn,
      issued_at: signed.issuedAt.toISOString(),
    };
    if (request.method === 'POST') body.scope = formatScopes(access);

    const offline =
      request.method === 'POST'
        ? params.get('access_type') === 'offline'
        : params.get('offline_token') === 'true';
    if (credentials.kind === 'refresh') {
      body.refresh_token = credentials.refreshToken; // OAuth2 spec: the same one, not a new one
    } else if (offline && record) {
      let expiresAt = record.expiresAt;
      if (config.refreshTokenLifetime !== undefined) {
        const cap = new Date(now.getTime() + config.refreshTokenLifetime * 1000);
        if (!expiresAt || cap < expiresAt) expiresAt = cap;
      }
      body.refresh_token = await signer.signRefreshToken({
        issuer: config.issuer,
        service,
        subject: record.name,
        fingerprint: record.fingerprint,
        ...(expiresAt ? { expiresAt } : {}),
      });
    }
    // One per registry request that needed a token: detail for debugging, not news.
    log.debug(
      {
        client,
        kind: principal.kind,
        subject: principal.subject,
        grant: formatScopes(access),
        expiresIn: signed.expiresIn,
      },
      'token issued',
    );
    return { status: 200, headers: { ...noStore }, body };
  }

  return {
    handle,
    isRevoked({ subject, fingerprint }) {
      return accessTokens?.lookup(subject)?.fingerprint !== fingerprint;
    },
    async reload() {
      await reloadSigner();
      await keyWatcher?.reset();
      await accessTokens?.reload();
    },
    close() {
      keyWatcher?.close();
      accessTokens?.close();
      return Promise.resolve();
    },
  };
}

const formBodyLimit = 64 * 1024;

/**
 * Adds GET and POST `realmPath` to `app`, in their own encapsulated scope so the form parser stays local:
 * the embedded registry can mount the issuer next to its own routes.
 */
export async function registerTokenRoutes(
  app: FastifyInstance,
  service: TokenService,
  realmPath: string,
): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: formBodyLimit },
      (_request, body, done) => done(null, new URLSearchParams(body as string)),
    );
    const queryOf = (url: string) =>
      new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const getHandler = async (request: FastifyRequest, reply: FastifyReply) => {
      const result = await service.handle({
        method: 'GET',
        clientAddress: request.ip,
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        params: queryOf(request.url),
      });
      return reply.code(result.status).headers(result.headers).send(result.body);
    };
    const postHandler = async (request: FastifyRequest, reply: FastifyReply) => {
      if (!(request.body instanceof URLSearchParams)) {
        const { status, headers, body } = errorReply(
          'INVALID_REQUEST',
          'expected an application/x-www-form-urlencoded body',
        );
        return reply.code(status).headers(headers).send(body);
      }
      // Form fields first, then any query parameters (some clients put `service` there).
      const params = new URLSearchParams(request.body);
      for (const [k, v] of queryOf(request.url)) if (!params.has(k)) params.append(k, v);
      const result = await service.handle({
        method: 'POST',
        clientAddress: request.ip,
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        params,
      });
      return reply.code(result.status).headers(result.headers).send(result.body);
    };
    // Both `/auth/token` and `/auth/token/`: realms are spelled either way (Distribution's autoredirect path
    // has no slash, the registry config's default has one).
    const alternate = realmPath.endsWith('/') ? realmPath.slice(0, -1) : `${realmPath}/`;
    for (const path of alternate === '' ? [realmPath] : [realmPath, alternate]) {
      scope.get(path, getHandler);
      scope.post(path, postHandler);
    }
  });
}

/** Log paths censored wherever they appear; the issuer's own log calls never pass secrets in the first place. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.headers["set-cookie"]',
  'password',
  'secret',
  'secretHash',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.secret',
  '*.secretHash',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

/** The issuer's logger: `formatter` as the registry's `log.formatter` (unset: text on a terminal, else json). */
export function createTokenServerLogger(level: string, stream?: LogStream, formatter?: LogFormatter): Logger {
  return createLogger({
    level,
    service: 'berth-token-server',
    redact: redactPaths,
    ...(stream ? { stream } : {}),
    formatter,
  });
}

export interface TokenServerOptions extends Omit<TokenServiceOptions, 'logger'> {
  /** Where logs go (default stdout); tests capture them here. */
  logStream?: LogStream;
}

/** The issuer's HTTP server around an existing service: `/healthz` and the token endpoint. */
export async function buildTokenServer(
  config: TokenServerConfig,
  service: TokenService,
  logger: Logger,
): Promise<FastifyInstance> {
  const serverOptions: FastifyServerOptions & { https?: { key: Buffer; cert: Buffer } } = {
    loggerInstance: logger,
    schemaController: noSchemaCompilers,
    // A hop count trusts that many proxies in front (fastify's typings only take the function form).
    trustProxy:
      typeof config.trustProxy === 'number'
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(config.trustProxy)
        : config.trustProxy,
  };
  if (config.tls) {
    serverOptions.https = {
      key: await readFile(config.tls.key),
      cert: await readFile(config.tls.certificate),
    };
  }
  // The https variant has a different server type parameter; the routes do not care which.
  const app = fastify(serverOptions) as unknown as FastifyInstance;
  app.get('/healthz', () => ({ status: 'ok' }));
  await registerTokenRoutes(app, service, config.realmPath);
  return app;
}

/** A ready (not yet listening) issuer app; closing the app stops the file watchers. */
export async function createTokenServer(
  config: TokenServerConfig,
  options: TokenServerOptions = {},
): Promise<FastifyInstance> {
  const logger = createTokenServerLogger(config.log.level, options.logStream, config.log.formatter);
  const service = await createTokenService(config, { ...options, logger });
  const app = await buildTokenServer(config, service, logger);
  app.addHook('onClose', () => service.close());
  return app;
}

/** `config.addr` as fastify listen options. */
export function listenOptions(config: TokenServerConfig): { host: string; port: number } {
  return parseListenAddress(config.addr);
}
