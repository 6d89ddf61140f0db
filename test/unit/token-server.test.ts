// The token issuer over real HTTP on loopback: the Docker token GET (Basic and anonymous) and OAuth2 POST flows
// as the Docker CLI sends them, grant intersection, public pulls, refresh tokens, rate limiting, access-token
// expiry and reload, ServiceAccount logins against a TokenReview endpoint over TLS, the CLI hooks, and logs
// that never hold a secret. Issued tokens are checked with the registry-side verifier.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { addAccessToken, readAccessTokenFile, removeAccessToken } from '../../registry/auth/access-tokens.ts';
import {
  createCertificate,
  generatePrivateKey,
  generateSigningKeyPair,
} from '../../registry/auth/keypair.ts';
import { createTokenReviewClient, TokenReviewUnavailableError } from '../../registry/auth/service-account.ts';
import {
  createAccessTokenCommand,
  revokeAccessTokenCommand,
  tokenServerCommand,
} from '../../registry/auth/token-server-cli.ts';
import {
  parseTokenServerConfig,
  type TokenServerConfigInput,
} from '../../registry/auth/token-server-config.ts';
import { createTokenServer } from '../../registry/auth/token-server.ts';
import { createTokenAuthorizer, type TokenAuthorizer } from '../../registry/auth/token-verifier.ts';
import { isRegistryError } from '../../registry/errors.ts';
import type { AccessRequest } from '../../registry/auth/types.ts';

const service = 'registry.example.test';
const issuer = 'berth-token-issuer';
const realmPath = '/auth/token';

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Every secret, token and hash the tests see: none may appear in the captured logs. */
const sensitive: string[] = [];
const logs: string[] = [];
const logStream = { write: (line: string) => void logs.push(line) };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function poll<T>(what: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const pull = (name: string): AccessRequest => ({ type: 'repository', name, actions: ['pull'] });
const push = (name: string): AccessRequest => ({ type: 'repository', name, actions: ['pull', 'push'] });

describe('token server', () => {
  let dir: string;
  let tokensPath: string;
  let certPath: string;
  let base: string;
  let app: FastifyInstance;
  let registry: TokenAuthorizer;
  const secrets: Record<string, string> = {};
  const cleanups: (() => Promise<unknown>)[] = [];

  function config(overrides: Partial<TokenServerConfigInput> = {}) {
    return parseTokenServerConfig(
      {
        addr: '127.0.0.1:0',
        issuer,
        service,
        signingKey: 'token.key',
        certificate: 'token.crt',
        accessTokenFile: 'tokens.yml',
        public: ['library/**'],
        rateLimit: { maxFailures: 3, window: '60s' },
        trustProxy: true,
        reloadInterval: 0.05,
        log: { level: 'trace' },
        ...overrides,
      },
      dir,
    );
  }

  async function request(
    method: 'GET' | 'POST',
    params: Record<string, string | string[]>,
    options: { authorization?: string; client?: string; json?: boolean; url?: string } = {},
  ): Promise<Reply> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const value of [v].flat()) search.append(k, value);
    const headers: Record<string, string> = { 'X-Forwarded-For': options.client ?? '192.0.2.1' };
    if (options.authorization) headers.Authorization = options.authorization;
    let url = `${options.url ?? base}${realmPath}`;
    let body: string | undefined;
    if (method === 'GET') url += `?${search.toString()}`;
    else if (options.json) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(params);
    } else {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = search.toString();
    }
    const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const json = (await res.json()) as Record<string, unknown>;
    for (const key of ['token', 'access_token', 'refresh_token']) {
      if (typeof json[key] === 'string') sensitive.push(json[key]);
    }
    return { status: res.status, headers: res.headers, body: json };
  }

  const tokenOf = (reply: Reply) => {
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return String(reply.body.token);
  };
  const accessOf = (reply: Reply) => decodeJwt(tokenOf(reply)).access;

  async function create(name: string, scopes: string[], repositories: string[], expiresAt?: Date) {
    const secret = await addAccessToken(tokensPath, {
      name,
      scopes: scopes as never,
      repositories,
      ...(expiresAt ? { expiresAt } : {}),
    });
    secrets[name] = secret;
    sensitive.push(secret);
    return secret;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-token-server-'));
    tokensPath = join(dir, 'tokens.yml');
    certPath = join(dir, 'token.crt');
    const pair = await generateSigningKeyPair({ commonName: issuer });
    await writeFile(join(dir, 'token.key'), pair.privateKeyPem, { mode: 0o600 });
    await writeFile(certPath, pair.certificatePem);
    sensitive.push(pair.privateKeyPem.split('\n')[1] ?? '');
    await create('ci', ['read_registry', 'write_registry'], ['team/**']);
    await create('reader', ['read_registry'], ['team/**']);
    await create('admin', ['admin_registry'], ['**']);
    await create('expired', ['read_registry'], ['team/**'], new Date(Date.now() - 1000));
    await create('soon', ['read_registry'], ['team/**'], new Date(Date.now() + 120_000));
    for (const token of (await readAccessTokenFile(tokensPath)).tokens) sensitive.push(token.secretHash);
    app = await createTokenServer(config(), { logStream });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    registry = await createTokenAuthorizer({
      realm: `${base}${realmPath}`,
      service,
      issuer,
      rootcertbundle: certPath,
    });
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await registry.close();
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('issues a token for Basic credentials that the registry accepts', async () => {
    const reply = await request(
      'GET',
      { service, scope: 'repository:team/app:pull,push', client_id: 'test' },
      {
        authorization: basic('ci', secrets.ci ?? ''),
      },
    );
    const token = tokenOf(reply);
    assert.equal(reply.body.access_token, token);
    assert.equal(reply.body.expires_in, 300);
    assert.equal(new Date(String(reply.body.issued_at)).toISOString(), reply.body.issued_at);
    assert.equal(reply.body.refresh_token, undefined);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.x5c?.length, 1);
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(token);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, service);
    assert.equal(claims.sub, 'ci');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 300);
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    const ctx = await registry.authorize(`Bearer ${token}`, [push('team/app')]);
    assert.equal(ctx.subject, 'ci');
  });

  it('grants the intersection, never failing a partial grant, and a read-only token cannot push', async () => {
    const reply = await request(
      'GET',
      {
        service,
        scope: [
          'repository:team/app:pull,push,delete',
          'repository:other/x:push',
          'registry:catalog:*',
          'bogus',
        ],
      },
      { authorization: basic('reader', secrets.reader ?? '') },
    );
    assert.deepEqual(accessOf(reply), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const token = tokenOf(reply);
    await registry.authorize(`Bearer ${token}`, [pull('team/app')]);
    await assert.rejects(registry.authorize(`Bearer ${token}`, [push('team/app')]), (err: unknown) => {
      assert.ok(isRegistryError(err));
      assert.match(err.headers['WWW-Authenticate'] ?? '', /error="insufficient_scope"$/);
      return true;
    });
    const none = await request(
      'GET',
      { service, scope: 'repository:other/x:pull' },
      { authorization: basic('reader', secrets.reader ?? '') },
    );
    assert.deepEqual(accessOf(none), []);
  });

  it('grants the catalog only to admin_registry', async () => {
    const admin = await request(
      'GET',
      { service, scope: ['registry:catalog:*', 'repository:any/thing:*'] },
      {
        authorization: basic('admin', secrets.admin ?? ''),
      },
    );
    assert.deepEqual(accessOf(admin), [
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'any/thing', actions: ['*'] },
    ]);
    const ci = await request(
      'GET',
      { service, scope: ['registry:catalog:*', 'repository:team/x:*'] },
      {
        authorization: basic('ci', secrets.ci ?? ''),
      },
    );
    assert.deepEqual(accessOf(ci), [{ type: 'repository', name: 'team/x', actions: ['pull', 'push'] }]);
  });

  it('lets anyone pull public repositories, and nothing else', async () => {
    const reply = await request('GET', {
      service,
      scope: ['repository:library/alpine:pull,push', 'repository:team/app:pull'],
    });
    assert.deepEqual(accessOf(reply), [{ type: 'repository', name: 'library/alpine', actions: ['pull'] }]);
    assert.equal(decodeJwt(tokenOf(reply)).sub, undefined);
    await registry.authorize(`Bearer ${tokenOf(reply)}`, [pull('library/alpine')]);
    // Authenticated users may pull public repositories too.
    const ci = await request(
      'GET',
      { service, scope: 'repository:library/alpine:pull' },
      { authorization: basic('ci', secrets.ci ?? '') },
    );
    assert.deepEqual(accessOf(ci), [{ type: 'repository', name: 'library/alpine', actions: ['pull'] }]);
    // The realm path with a trailing slash is served too.
    const slash = await fetch(`${base}${realmPath}/?service=${service}&scope=repository:library/a:pull`);
    assert.equal(slash.status, 200);
    sensitive.push(String(((await slash.json()) as { token: string }).token));
    // Without a service parameter the configured one is used.
    assert.equal(
      decodeJwt(tokenOf(await request('GET', { scope: 'repository:library/a:pull' }))).aud,
      service,
    );
  });

  it('refuses wrong credentials with 401 and the registry error body', async () => {
    for (const authorization of [
      basic('ci', 'wrong'),
      basic('nobody', 'wrong'),
      'Basic !!!',
      basic('expired', secrets.expired ?? ''),
    ]) {
      const reply = await request(
        'GET',
        { service, scope: 'repository:team/app:pull' },
        { authorization, client: '198.51.100.1' },
      );
      assert.equal(reply.status, 401);
      assert.deepEqual((reply.body.errors as { code: string }[])[0]?.code, 'UNAUTHORIZED');
      assert.equal(reply.body.token, undefined);
    }
    const expired = await request(
      'GET',
      { service },
      { authorization: basic('expired', secrets.expired ?? '') },
    );
    assert.match(
      (expired.body.errors as { message: string }[])[0]?.message ?? '',
      /access token expired has expired/,
    );
  });

  it('caps tokens at the access token expiry', async () => {
    const reply = await request(
      'GET',
      { service, scope: 'repository:team/app:pull' },
      { authorization: basic('soon', secrets.soon ?? '') },
    );
    const expiresIn = Number(reply.body.expires_in);
    assert.ok(expiresIn <= 120 && expiresIn > 100, String(expiresIn));
  });

  it('runs the OAuth2 flow of docker login: password grant with offline access, then refresh_token grants', async () => {
    const login = await request('POST', {
      client_id: 'docker',
      grant_type: 'password',
      username: 'ci',
      password: secrets.ci ?? '',
      service,
      access_type: 'offline',
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.scope, '');
    assert.deepEqual(decodeJwt(String(login.body.access_token)).access, []);
    const refreshToken = String(login.body.refresh_token);
    assert.ok(refreshToken.length > 20);

    const refreshed = await request('POST', {
      client_id: 'docker',
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      service,
      scope: 'repository:team/app:pull,push repository:library/base:pull',
    });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body.refresh_token, refreshToken);
    assert.equal(refreshed.body.scope, 'repository:team/app:pull,push repository:library/base:pull');
    await registry.authorize(`Bearer ${String(refreshed.body.access_token)}`, [
      push('team/app'),
      pull('library/base'),
    ]);

    // A refresh token is not an access token for the registry.
    await assert.rejects(registry.authorize(`Bearer ${refreshToken}`, []), /authentication required/);
    // It only serves its own service, and a forged one fails.
    assert.equal(
      (await request('POST', { grant_type: 'refresh_token', refresh_token: refreshToken, service: 'other' }))
        .status,
      400,
    );
    const forged = await request(
      'POST',
      { grant_type: 'refresh_token', refresh_token: `${refreshToken}x`, service },
      { client: '198.51.100.2' },
    );
    assert.equal(forged.status, 401);
  });

  it('returns a refresh token to GET with offline_token=true (docker with Basic credentials)', async () => {
    const reply = await request(
      'GET',
      { service, offline_token: 'true', client_id: 'docker', account: 'ci' },
      {
        authorization: basic('ci', secrets.ci ?? ''),
      },
    );
    assert.equal(typeof reply.body.refresh_token, 'string');
    const anonymous = await request('GET', {
      service,
      offline_token: 'true',
      scope: 'repository:library/a:pull',
    });
    assert.equal(anonymous.body.refresh_token, undefined);
  });

  it('treats a POST without grant_type as anonymous, and refuses bad requests', async () => {
    const anonymous = await request('POST', {
      service,
      scope: 'repository:library/a:pull',
      client_id: 'regclient',
    });
    assert.deepEqual(accessOf(anonymous), [{ type: 'repository', name: 'library/a', actions: ['pull'] }]);
    const unsupported = await request('POST', { grant_type: 'client_credentials', service });
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.body.error, 'unsupported_grant_type');
    assert.equal((await request('POST', { grant_type: 'password', username: 'ci', service })).status, 400);
    assert.equal((await request('POST', { grant_type: 'password', service }, { json: true })).status, 400);
    assert.equal((await request('GET', { service: 'another-registry' })).status, 400);
  });

  it('limits failed logins per username and client address with 429; a repeated credential counts once', async () => {
    const attacker = '203.0.113.7';
    const guess = (username: string, password: string, client = attacker) =>
      request('GET', { service }, { authorization: basic(username, password), client });
    // containerd's way: each attempt as a POST password grant, then a GET with Basic auth. One failure each.
    for (let i = 0; i < 3; i++) {
      const post = await request(
        'POST',
        { grant_type: 'password', username: 'ci', password: 'one-typo', service },
        { client: attacker },
      );
      assert.equal(post.status, 401);
      assert.equal((await guess('ci', 'one-typo')).status, 401);
    }
    // Still below the limit of 3; the right secret logs in and clears the count.
    assert.equal((await guess('ci', secrets.ci ?? '')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await guess('ci', `guess-${i}`)).status, 401);
    const blocked = await guess('ci', secrets.ci ?? '');
    assert.equal(blocked.status, 429);
    assert.equal((blocked.body.errors as { code: string }[])[0]?.code, 'TOOMANYREQUESTS');
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    const oauth = await request(
      'POST',
      { grant_type: 'password', username: 'ci', password: secrets.ci ?? '', service },
      { client: attacker },
    );
    assert.equal(oauth.status, 429);
    // Other usernames from the same address, the same one from another address, and anonymous pulls go on.
    assert.equal((await guess('reader', secrets.reader ?? '')).status, 200);
    assert.equal((await guess('ci', secrets.ci ?? '', '203.0.113.8')).status, 200);
    assert.equal(
      (await request('GET', { service, scope: 'repository:library/a:pull' }, { client: attacker })).status,
      200,
    );
  });

  it('limits one address over all usernames at ten times the per-username limit', async () => {
    const sprayer = '203.0.113.9';
    for (let i = 0; i < 30; i++) {
      const reply = await request(
        'GET',
        { service },
        { authorization: basic(`user-${i}`, 'Password1'), client: sprayer },
      );
      assert.equal(reply.status, 401);
    }
    const refused = await request(
      'GET',
      { service },
      { authorization: basic('reader', secrets.reader ?? ''), client: sprayer },
    );
    assert.equal(refused.status, 429);
  });

  it('reloads the access-token file: new tokens work, removed ones and their refresh tokens stop', async () => {
    await create('late', ['read_registry'], ['late/*']);
    const reply = await poll(async () => {
      const r = await request(
        'GET',
        { service, scope: 'repository:late/app:pull' },
        { authorization: basic('late', secrets.late ?? ''), client: '192.0.2.50' },
      );
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(accessOf(reply), [{ type: 'repository', name: 'late/app', actions: ['pull'] }]);
    const login = await request('POST', {
      grant_type: 'password',
      username: 'late',
      password: secrets.late ?? '',
      service,
      access_type: 'offline',
    });
    const refreshToken = String(login.body.refresh_token);

    assert.equal(await removeAccessToken(tokensPath, 'late'), true);
    await poll(async () => {
      const r = await request(
        'GET',
        { service },
        { authorization: basic('late', secrets.late ?? ''), client: '192.0.2.51' },
      );
      return r.status === 401 ? true : undefined;
    });
    const refresh = await request(
      'POST',
      { grant_type: 'refresh_token', refresh_token: refreshToken, service },
      { client: '192.0.2.52' },
    );
    assert.equal(refresh.status, 401);
  });

  it('keeps the previous tokens when the file becomes invalid', async () => {
    const good = await readFile(tokensPath, 'utf8');
    await writeFile(tokensPath, `${good}\n  - name: [broken\n`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      (await request('GET', { service }, { authorization: basic('ci', secrets.ci ?? '') })).status,
      200,
    );
    await writeFile(tokensPath, good);
    assert.ok(logs.some((l) => l.includes('access-token file not reloaded')));
  });

  it('logs ServiceAccounts in through TokenReview over TLS, within their namespace prefix', async () => {
    const ca = await generateSigningKeyPair({ commonName: 'test cluster ca' });
    const serverKey = (await generatePrivateKey('ES256')).export({ type: 'pkcs8', format: 'pem' }).toString();
    const serverCert = await createCertificate(serverKey, {
      commonName: 'kube-apiserver',
      issuer: ca,
      ca: false,
      subjectAltNames: ['IP:127.0.0.1', 'DNS:localhost'],
    });
    const saToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJidWlsZGVyIn0.c2lnbmF0dXJl';
    sensitive.push(saToken);
    const reviews: { authorization?: string; token?: string; audiences?: string[] }[] = [];
    const apiserver: Server = createServer({ key: serverKey, cert: serverCert }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
        reviews.push({
          authorization: req.headers.authorization,
          token: review.spec.token,
          audiences: review.spec.audiences,
        });
        const ok = req.url === '/apis/authentication.k8s.io/v1/tokenreviews' && review.spec.token === saToken;
        res.setHeader('Content-Type', 'application/json');
        res.writeHead(201);
        res.end(
          JSON.stringify({
            kind: 'TokenReview',
            status: ok
              ? {
                  authenticated: true,
                  user: { username: 'system:serviceaccount:team-a:builder' },
                  audiences: ['berth'],
                }
              : { authenticated: false, error: 'invalid bearer token' },
          }),
        );
      });
    });
    await new Promise<void>((r) => apiserver.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => apiserver.close(r)));
    const apiServerUrl = `https://127.0.0.1:${(apiserver.address() as AddressInfo).port}`;
    await writeFile(join(dir, 'ca.crt'), ca.certificatePem);
    await writeFile(join(dir, 'sa-token'), 'issuer-own-token\n');

    const k8sApp = await createTokenServer(
      config({
        kubernetes: {
          apiServer: apiServerUrl,
          tokenFile: 'sa-token',
          caFile: 'ca.crt',
          audiences: ['berth'],
        },
      }),
      { logStream },
    );
    cleanups.push(() => k8sApp.close());
    const k8sBase = await k8sApp.listen({ host: '127.0.0.1', port: 0 });

    const reply = await request(
      'GET',
      {
        service,
        scope: [
          'repository:team-a/app:pull,push,delete',
          'repository:team-b/app:pull,push',
          'repository:team-a:push',
        ],
      },
      { authorization: basic('serviceaccount', saToken), url: k8sBase },
    );
    assert.deepEqual(accessOf(reply), [
      { type: 'repository', name: 'team-a/app', actions: ['pull', 'push'] },
    ]);
    assert.equal(decodeJwt(tokenOf(reply)).sub, 'system:serviceaccount:team-a:builder');
    assert.deepEqual(reviews[0], {
      authorization: 'Bearer issuer-own-token',
      token: saToken,
      audiences: ['berth'],
    });
    // Cached: a second login does not ask the API server again.
    await request('GET', { service }, { authorization: basic('serviceaccount', saToken), url: k8sBase });
    assert.equal(reviews.length, 1);
    // Invalid ServiceAccount tokens are failed logins; no refresh token for ServiceAccounts.
    const bad = await request(
      'GET',
      { service },
      { authorization: basic('serviceaccount', 'eyJ.eyJ.sig'), url: k8sBase, client: '192.0.2.77' },
    );
    assert.equal(bad.status, 401);
    const offline = await request(
      'POST',
      {
        grant_type: 'password',
        username: 'serviceaccount',
        password: saToken,
        service,
        access_type: 'offline',
      },
      { url: k8sBase },
    );
    assert.equal(offline.status, 200);
    assert.equal(offline.body.refresh_token, undefined);

    // An API server whose certificate the client does not trust is an outage (503), not a failed login.
    const untrusting = createTokenReviewClient({ apiServer: apiServerUrl, bearerToken: 'x' });
    await assert.rejects(untrusting.authenticate(saToken), TokenReviewUnavailableError);
    const noK8s = await createTokenServer(
      config({ kubernetes: { apiServer: 'https://127.0.0.1:1', tokenFile: 'sa-token' } }),
      { logStream },
    );
    cleanups.push(() => noK8s.close());
    const down = await request(
      'GET',
      { service },
      {
        authorization: basic('serviceaccount', saToken),
        url: await noK8s.listen({ host: '127.0.0.1', port: 0 }),
      },
    );
    assert.equal(down.status, 503);
  });

  it('creates and revokes access tokens from the CLI, printing the secret once', async () => {
    const file = join(dir, 'cli-tokens.yml');
    let out = '';
    let err = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    await createAccessTokenCommand(
      [
        'create',
        '--name',
        'deploy',
        '--scopes',
        'write_registry',
        '--repositories',
        'team/*,base/**',
        '--file',
        file,
        '--expires',
        '30d',
      ],
      io,
    );
    const secret = out.trim();
    sensitive.push(secret);
    assert.match(secret, /^bth_[A-Za-z0-9_-]{43}$/);
    // write_registry implies pull (grants.ts): no advice to add read_registry any more.
    assert.doesNotMatch(err, /read_registry/);
    const saved = await readFile(file, 'utf8');
    assert.ok(!saved.includes(secret));
    const parsed = await readAccessTokenFile(file);
    assert.deepEqual(parsed.tokens[0]?.repositories, ['team/*', 'base/**']);
    assert.ok((parsed.tokens[0]?.expiresAt?.getTime() ?? 0) > Date.now() + 29 * 86400_000);
    await assert.rejects(
      createAccessTokenCommand(
        ['--name', 'deploy', '--scopes', 'read_registry', '--repositories', 'x', '--file', file],
        io,
      ),
      /already exists/,
    );
    await assert.rejects(
      createAccessTokenCommand(
        ['--name', 'x', '--scopes', 'root', '--repositories', 'x', '--file', file],
        io,
      ),
      /unknown scope/,
    );
    await assert.rejects(
      createAccessTokenCommand(
        ['--name', 'x', '--scopes', 'read_registry', '--repositories', 'UPPER', '--file', file],
        io,
      ),
      /repositories/,
    );
    await revokeAccessTokenCommand(['revoke', '--name', 'deploy', '--file', file], io);
    assert.deepEqual((await readAccessTokenFile(file)).tokens, []);
  });

  it('runs as the token-server command until told to stop', async () => {
    const configPath = join(dir, 'token-server.yml');
    await writeFile(
      configPath,
      `addr: "127.0.0.1:0"\nissuer: ${issuer}\nservice: ${service}\nsigningKey: token.key\ncertificate: token.crt\nlog: { level: silent }\n`,
    );
    const controller = new AbortController();
    const running = tokenServerCommand([configPath], { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await running;
    await writeFile(configPath, `issuer: x\nservice: y\nsigningKey: k\ncertificate: c\nbogus: 1\n`);
    await assert.rejects(tokenServerCommand([configPath]), /bogus/);
  });

  it('never logs a secret, token, refresh token or hash', () => {
    const text = logs.join('');
    assert.ok(logs.length > 20, 'expected captured logs');
    assert.ok(text.includes('token issued') && text.includes('login failed'));
    for (const value of sensitive) {
      assert.ok(value.length > 8);
      assert.ok(!text.includes(value), `a sensitive value leaked into the logs: ${value.slice(0, 12)}...`);
    }
    assert.ok(!text.includes('$scrypt$'));
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.eyJ/.test(text), 'a JWT leaked into the logs');
  });
});
