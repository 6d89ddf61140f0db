// Token auth through the HTTP API, in process: the real token issuer on a loopback port (keys made in process,
// access tokens in a file) and the registry app verifying its tokens. Every token here comes from the issuer
// through the Docker token flow (challenge → realm → retry), never minted by the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { addAccessToken } from '../../registry/auth/access-tokens.ts';
import type { RegistryScope } from '../../registry/auth/grants.ts';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { parseTokenServerConfig } from '../../registry/auth/token-server-config.ts';
import { createTokenServer } from '../../registry/auth/token-server.ts';
import { createTokenAuthorizer, type TokenAuthorizer } from '../../registry/auth/token-verifier.ts';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { sha256 } from './client.ts';
import {
  bearer,
  errorBody,
  fetchToken,
  parseChallenge,
  pushBlobAs,
  pushImageAs,
  tokenForChallenge,
  type Credentials,
} from './auth-client.ts';

const service = 'registry.test';
const issuer = 'berth-token-issuer';

type Who = 'admin' | 'reader' | 'writer' | 'pusher';
const grants: Record<Who, { scopes: RegistryScope[]; repositories: string[] }> = {
  admin: {
    scopes: ['read_registry', 'write_registry', 'delete_registry', 'admin_registry'],
    repositories: ['**'],
  },
  reader: { scopes: ['read_registry'], repositories: ['team/**'] },
  writer: { scopes: ['read_registry', 'write_registry'], repositories: ['team/**'] },
  pusher: { scopes: ['write_registry'], repositories: ['team/**'] },
};

describe('token auth through the registry API', () => {
  let dir: string;
  let issuerApp: FastifyInstance;
  let realm: string;
  let authorizer: TokenAuthorizer;
  let registry: TestRegistry;
  const credentials = {} as Record<Who, Credentials>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-auth-api-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'token.key'), pair.privateKeyPem, { mode: 0o600 });
    await writeFile(join(dir, 'token.crt'), pair.certificatePem);
    for (const who of Object.keys(grants) as Who[]) {
      const password = await addAccessToken(join(dir, 'tokens.yml'), { name: who, ...grants[who] });
      credentials[who] = { username: who, password };
    }
    const config = parseTokenServerConfig(
      {
        addr: '127.0.0.1:0',
        issuer,
        service,
        signingKey: 'token.key',
        certificate: 'token.crt',
        accessTokenFile: 'tokens.yml',
        public: ['library/**'],
        reloadInterval: 0,
        log: { level: 'warn' },
      },
      dir,
    );
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    issuerApp = await createTokenServer(config, { logStream: quiet });
    const issuerUrl = await issuerApp.listen({ host: '127.0.0.1', port: 0 });
    realm = `${issuerUrl}/auth/token`;
    authorizer = await createTokenAuthorizer({
      realm,
      service,
      issuer,
      rootcertbundle: join(dir, 'token.crt'),
    });
    registry = await startTestRegistry({ authorizer });
  });

  after(async () => {
    await registry.close();
    await authorizer.close();
    await issuerApp.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A token for `scopes` as `who` (anonymous when undefined), straight from the issuer. */
  const tokenAs = (who: Who | undefined, ...scopes: string[]) =>
    fetchToken(realm, service, scopes, who ? credentials[who] : undefined);

  /** What the token grants: its `access` claim. */
  const accessOf = (token: string) => decodeJwt(token)['access'];

  async function assertInsufficientScope(res: Response, scope: string, actions: string[], name: string) {
    assert.equal(res.status, 401);
    const { scheme, params } = parseChallenge(res.headers.get('www-authenticate'));
    assert.equal(scheme, 'Bearer');
    assert.deepEqual(params, { realm, service, scope, error: 'insufficient_scope' });
    const body = await errorBody(res);
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0]?.code, 'UNAUTHORIZED');
    const type = name === 'catalog' || name === 'maintenance' ? 'registry' : 'repository';
    assert.deepEqual(
      body.errors[0]?.detail,
      actions.map((Action) => ({ Type: type, Name: name, Action })),
    );
  }

  it('GET /v2/ without a token: 401 with a Bearer challenge naming the realm and service', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm}",service="${service}"`);
    const body = await errorBody(res);
    assert.equal(body.errors[0]?.code, 'UNAUTHORIZED');

    // Any valid token opens /v2/, an anonymous one included (it is how clients probe for auth).
    for (const who of [undefined, 'reader'] as const) {
      const ok = await fetch(`${registry.url}/v2/`, { headers: bearer(await tokenAs(who)) });
      assert.equal(ok.status, 200, `as ${who ?? 'anonymous'}`);
    }
  });

  it('a token that does not verify gets error="invalid_token"', async () => {
    const good = await tokenAs('reader', 'repository:team/app:pull');
    const [header, , signature] = good.split('.');
    const forged = Buffer.from(
      JSON.stringify({
        ...decodeJwt(good),
        access: [{ type: 'repository', name: 'team/app', actions: ['*'] }],
      }),
    ).toString('base64url');
    for (const token of ['not-a-jwt', `${header}.${forged}.${signature}`]) {
      const res = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: bearer(token) });
      assert.equal(res.status, 401);
      const { params } = parseChallenge(res.headers.get('www-authenticate'));
      assert.equal(params['error'], 'invalid_token');
      assert.equal(params['scope'], 'repository:team/app:pull');
      assert.equal((await errorBody(res)).errors[0]?.code, 'UNAUTHORIZED');
    }
  });

  it('a pull-only token pulls; pushing with it gets 401 insufficient_scope listing the needed access', async () => {
    const admin = await tokenAs('admin', 'repository:team/app:pull,push');
    const image = await pushImageAs(registry.url, 'team/app', 'v1', admin, randomBytes(64));

    // The Docker flow: unauthenticated request → challenge → token for exactly that scope → retry.
    const manifestUrl = `${registry.url}/v2/team/app/manifests/v1`;
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    const first = await fetch(manifestUrl, { headers: accept });
    assert.equal(
      parseChallenge(first.headers.get('www-authenticate')).params['scope'],
      'repository:team/app:pull',
    );
    const reader = await tokenForChallenge(first, credentials.reader);
    const pulled = await fetch(manifestUrl, { headers: { ...accept, ...bearer(reader) } });
    assert.equal(pulled.status, 200);
    assert.equal(pulled.headers.get('docker-content-digest'), image.digest);
    await pulled.body?.cancel();
    const blob = await fetch(`${registry.url}/v2/team/app/blobs/${image.layer}`, { headers: bearer(reader) });
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), image.layer);

    // Asked for push, the issuer grants what it may (pull) without failing; the registry then refuses.
    const partial = await tokenAs('reader', 'repository:team/app:pull,push');
    assert.deepEqual(accessOf(partial), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const post = await fetch(`${registry.url}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: bearer(partial),
    });
    await assertInsufficientScope(post, 'repository:team/app:pull,push', ['pull', 'push'], 'team/app');
    const put = await fetch(`${registry.url}/v2/team/app/manifests/v2`, {
      method: 'PUT',
      headers: { ...bearer(partial), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: '{}',
    });
    await assertInsufficientScope(put, 'repository:team/app:pull,push', ['pull', 'push'], 'team/app');

    // write_registry without delete_registry cannot delete.
    const writer = await tokenAs('writer', 'repository:team/app:pull,push,delete');
    const del = await fetch(`${registry.url}/v2/team/app/manifests/${image.digest}`, {
      method: 'DELETE',
      headers: bearer(writer),
    });
    await assertInsufficientScope(del, 'repository:team/app:delete', ['delete'], 'team/app');
  });

  it('write_registry alone pushes and pulls: it grants pull with push, as GitLab does', async () => {
    // An upload's challenge asks for pull and push (Distribution's upload routes need both).
    const start = await fetch(`${registry.url}/v2/team/pushed/blobs/uploads/`, { method: 'POST' });
    assert.equal(
      parseChallenge(start.headers.get('www-authenticate')).params['scope'],
      'repository:team/pushed:pull,push',
    );
    const token = await tokenForChallenge(start, credentials.pusher);
    assert.deepEqual(accessOf(token), [
      { type: 'repository', name: 'team/pushed', actions: ['pull', 'push'] },
    ]);
    const image = await pushImageAs(registry.url, 'team/pushed', 'v1', token, randomBytes(64));

    const manifestUrl = `${registry.url}/v2/team/pushed/manifests/v1`;
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    const reader = await tokenForChallenge(await fetch(manifestUrl, { headers: accept }), credentials.pusher);
    const pulled = await fetch(manifestUrl, { headers: { ...accept, ...bearer(reader) } });
    assert.equal(pulled.status, 200);
    assert.equal(pulled.headers.get('docker-content-digest'), image.digest);
    await pulled.body?.cancel();
    const blob = await fetch(`${registry.url}/v2/team/pushed/blobs/${image.layer}`, {
      headers: bearer(reader),
    });
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), image.layer);

    // Still nothing beyond its patterns, and no delete.
    assert.deepEqual(accessOf(await tokenAs('pusher', 'repository:other/app:pull,push')), []);
    const del = await tokenAs('pusher', 'repository:team/pushed:delete');
    assert.deepEqual(accessOf(del), []);
  });

  it('a token for one repository does not open another', async () => {
    const reader = await tokenAs('reader', 'repository:team/app:pull');
    const other = await fetch(`${registry.url}/v2/team/other/tags/list`, { headers: bearer(reader) });
    await assertInsufficientScope(other, 'repository:team/other:pull', ['pull'], 'team/other');
    // Outside its patterns the issuer grants nothing at all.
    const outside = await tokenAs('reader', 'repository:secret/app:pull');
    assert.deepEqual(accessOf(outside), []);
  });

  it('the catalog needs registry:catalog:*, which only admin_registry grants', async () => {
    const anonymous = await fetch(`${registry.url}/v2/_catalog`);
    assert.equal(
      parseChallenge(anonymous.headers.get('www-authenticate')).params['scope'],
      'registry:catalog:*',
    );
    const writer = await tokenForChallenge(anonymous, credentials.writer);
    assert.deepEqual(accessOf(writer), []);
    const refused = await fetch(`${registry.url}/v2/_catalog`, { headers: bearer(writer) });
    await assertInsufficientScope(refused, 'registry:catalog:*', ['*'], 'catalog');

    const admin = await tokenAs('admin', 'registry:catalog:*');
    const res = await fetch(`${registry.url}/v2/_catalog`, { headers: bearer(admin) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { repositories: string[] };
    assert.ok(body.repositories.includes('team/app'), JSON.stringify(body));
  });

  it('a mount without pull access on `from` falls back to a normal upload (202)', async () => {
    const admin = await tokenAs(
      'admin',
      'repository:secret/base:pull,push',
      'repository:team/mounted:pull,push',
    );
    const layer = randomBytes(128);
    const digest = sha256(layer);
    assert.equal((await pushBlobAs(registry.url, 'secret/base', layer, admin)).status, 201);

    // writer may push team/**, but not read secret/**: the issuer drops that part of the request.
    const writer = await tokenAs(
      'writer',
      'repository:team/mounted:pull,push',
      'repository:secret/base:pull',
    );
    assert.deepEqual(accessOf(writer), [
      { type: 'repository', name: 'team/mounted', actions: ['pull', 'push'] },
    ]);
    const mountUrl = `${registry.url}/v2/team/mounted/blobs/uploads/?mount=${digest}&from=secret/base`;
    const fallback = await fetch(mountUrl, { method: 'POST', headers: bearer(writer) });
    assert.equal(fallback.status, 202);
    assert.match(fallback.headers.get('location') ?? '', /^\/v2\/team\/mounted\/blobs\/uploads\/[^/]+$/);
    const notLinked = await fetch(`${registry.url}/v2/team/mounted/blobs/${digest}`, {
      method: 'HEAD',
      headers: bearer(admin),
    });
    assert.equal(notLinked.status, 404, 'the blob was mounted without pull access to its source');

    // With pull on the source the same request mounts.
    const mounted = await fetch(mountUrl, { method: 'POST', headers: bearer(admin) });
    assert.equal(mounted.status, 201);
    assert.equal(mounted.headers.get('docker-content-digest'), digest);
  });

  it('/berth/v1/maintenance needs registry:maintenance:*, which only admin_registry grants', async () => {
    const url = `${registry.url}/berth/v1/maintenance`;
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401);
    assert.equal(
      anonymous.headers.get('www-authenticate'),
      `Bearer realm="${realm}",service="${service}",scope="registry:maintenance:*"`,
    );
    const writer = await tokenForChallenge(anonymous, credentials.writer);
    const refused = await fetch(url, { headers: bearer(writer) });
    await assertInsufficientScope(refused, 'registry:maintenance:*', ['*'], 'maintenance');

    const admin = await tokenAs('admin', 'registry:maintenance:*');
    assert.deepEqual(accessOf(admin), [{ type: 'registry', name: 'maintenance', actions: ['*'] }]);
    const res = await fetch(url, { headers: bearer(admin) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { readOnly: false, configRevision: 'test', pid: process.pid });
  });

  it('anyone pulls a public repository without credentials, but cannot push to it', async () => {
    const admin = await tokenAs('admin', 'repository:library/base:pull,push');
    const image = await pushImageAs(registry.url, 'library/base', 'v1', admin, randomBytes(64));

    const first = await fetch(`${registry.url}/v2/library/base/manifests/v1`, { method: 'HEAD' });
    const anonymous = await tokenForChallenge(first);
    const head = await fetch(`${registry.url}/v2/library/base/manifests/v1`, {
      method: 'HEAD',
      headers: bearer(anonymous),
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), image.digest);

    const pushToken = await tokenAs(undefined, 'repository:library/base:pull,push');
    assert.deepEqual(accessOf(pushToken), [{ type: 'repository', name: 'library/base', actions: ['pull'] }]);
    const push = await pushBlobAs(registry.url, 'library/base', randomBytes(16), pushToken);
    await assertInsufficientScope(
      push,
      'repository:library/base:pull,push',
      ['pull', 'push'],
      'library/base',
    );

    // A private repository gives the anonymous caller nothing.
    const privateToken = await tokenAs(undefined, 'repository:team/app:pull');
    assert.deepEqual(accessOf(privateToken), []);
    const refused = await fetch(`${registry.url}/v2/team/app/manifests/v1`, {
      headers: bearer(privateToken),
    });
    await assertInsufficientScope(refused, 'repository:team/app:pull', ['pull'], 'team/app');
  });

  it('the issuer refuses a wrong password with 401 and a Basic challenge', async () => {
    const url = new URL(realm);
    url.searchParams.set('service', service);
    url.searchParams.set('scope', 'repository:team/app:pull');
    const res = await fetch(url, {
      headers: { Authorization: `Basic ${Buffer.from('reader:wrong').toString('base64')}` },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Basic realm="${service}"`);
    assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNAUTHORIZED');
  });
});
