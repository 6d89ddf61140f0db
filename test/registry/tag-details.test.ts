// GET /berth/v1/repositories/<name>/tags on the filesystem driver, in process: every field of every kind of
// tag, pagination like the tags list, the error codes, and token auth (pull on the repository, through the
// real token issuer and the Docker token flow).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { addAccessToken } from '../../registry/auth/access-tokens.ts';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { parseTokenServerConfig } from '../../registry/auth/token-server-config.ts';
import { createTokenServer } from '../../registry/auth/token-server.ts';
import { createTokenAuthorizer, type TokenAuthorizer } from '../../registry/auth/token-verifier.ts';
import { startTestRegistry, type TestRegistry } from './server.ts';
import { errorCode, pushImage, putManifest } from './client.ts';
import { bearer, errorBody, fetchToken, parseChallenge, tokenForChallenge } from './auth-client.ts';
import {
  checkRepushMovesTagWrittenAt,
  checkTagDetails,
  getTagDetails,
  pushTagDetailsFixture,
  type TagDetailsFixture,
} from './tag-details-scenario.ts';

describe('tag details API (filesystem)', () => {
  let registry: TestRegistry;
  let url: string;
  let fixture: TagDetailsFixture;
  before(async () => {
    registry = await startTestRegistry();
    url = registry.url;
    fixture = await pushTagDetailsFixture(url, 'cleanup/app', registry.services.driver);
  });
  after(() => registry.close());

  it('gives every field of every tag: images, alias, index, no date, artifact, dangling', async () => {
    const { entries, link } = await getTagDetails(url, 'cleanup/app');
    assert.equal(link, null, 'one page holds them all');
    checkTagDetails(fixture, entries);
  });

  it('moves tagWrittenAt when a tag is pushed again, and keeps created', async () => {
    await checkRepushMovesTagWrittenAt(url, fixture);
  });

  it('pages with n and last, with a Link header to the next page', async () => {
    const all = [...fixture.expected.keys()].sort();
    const seen: string[] = [];
    let query = '?n=3';
    for (;;) {
      const { entries, link } = await getTagDetails(url, 'cleanup/app', query);
      seen.push(...entries.map((e) => e.name));
      if (link === null) break;
      const last = entries[entries.length - 1]?.name ?? '';
      assert.equal(link, `</berth/v1/repositories/cleanup/app/tags?last=${last}&n=3>; rel="next"`);
      query = link.slice(link.indexOf('?'), link.indexOf('>'));
    }
    assert.deepEqual(seen, all);
    assert.deepEqual((await getTagDetails(url, 'cleanup/app', '?n=0')).entries, []);
    const afterMulti = await getTagDetails(url, 'cleanup/app', '?last=multi');
    assert.deepEqual(
      afterMulti.entries.map((e) => e.name),
      all.filter((t) => t > 'multi'),
    );
    assert.equal((await getTagDetails(url, 'cleanup/app', '?n=1000')).entries.length, all.length);
  });

  it('answers at most 100 tags without n', async () => {
    const image = await pushImage(url, 'cleanup/many', 't000', [Buffer.from('many')]);
    const tags = Array.from({ length: 101 }, (_, i) => `t${String(i).padStart(3, '0')}`);
    for (const tag of tags.slice(1)) {
      assert.equal((await putManifest(url, 'cleanup/many', tag, image.manifest)).status, 201);
    }
    const { entries, link } = await getTagDetails(url, 'cleanup/many');
    assert.deepEqual(
      entries.map((e) => e.name),
      tags.slice(0, 100),
    );
    assert.equal(link, '</berth/v1/repositories/cleanup/many/tags?last=t099&n=100>; rel="next"');
    assert.ok(entries.every((e) => e.digest === image.digest));
  });

  it('refuses a bad n with PAGINATION_NUMBER_INVALID (at most 1000 per page)', async () => {
    for (const n of ['1001', '-1', 'abc', '1.5']) {
      const res = await fetch(`${url}/berth/v1/repositories/cleanup/app/tags?n=${n}`);
      assert.equal(res.status, 400, n);
      assert.equal(await errorCode(res), 'PAGINATION_NUMBER_INVALID', n);
    }
  });

  it('answers NAME_UNKNOWN, NAME_INVALID, and 404 for other paths under repositories/', async () => {
    const unknown = await fetch(`${url}/berth/v1/repositories/cleanup/nothing/tags`);
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'NAME_UNKNOWN');
    const invalid = await fetch(`${url}/berth/v1/repositories/Cleanup/App/tags`);
    assert.equal(invalid.status, 400);
    assert.equal(await errorCode(invalid), 'NAME_INVALID');
    for (const path of ['cleanup/app', 'cleanup/app/tags/list', 'cleanup/app/tags/v1']) {
      const res = await fetch(`${url}/berth/v1/repositories/${path}`);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  });
});

describe('tag details API with token auth', () => {
  const service = 'registry.test';
  const issuer = 'berth-token-issuer';
  let dir: string;
  let issuerApp: FastifyInstance;
  let realm: string;
  let authorizer: TokenAuthorizer;
  let open: TestRegistry;
  let registry: TestRegistry;
  const reader = { username: 'reader', password: '' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tag-details-auth-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'token.key'), pair.privateKeyPem, { mode: 0o600 });
    await writeFile(join(dir, 'token.crt'), pair.certificatePem);
    reader.password = await addAccessToken(join(dir, 'tokens.yml'), {
      name: 'reader',
      scopes: ['read_registry'],
      repositories: ['team/**'],
    });
    const config = parseTokenServerConfig(
      {
        addr: '127.0.0.1:0',
        issuer,
        service,
        signingKey: 'token.key',
        certificate: 'token.crt',
        accessTokenFile: 'tokens.yml',
        public: [],
        reloadInterval: 0,
        log: { level: 'warn' },
      },
      dir,
    );
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    issuerApp = await createTokenServer(config, { logStream: quiet });
    realm = `${await issuerApp.listen({ host: '127.0.0.1', port: 0 })}/auth/token`;
    authorizer = await createTokenAuthorizer({
      realm,
      service,
      issuer,
      rootcertbundle: join(dir, 'token.crt'),
    });
    // Content is pushed through an open replica; the second replica over the same storage checks tokens.
    open = await startTestRegistry();
    registry = await startTestRegistry({ authorizer, driver: open.services.driver });
    await pushImage(open.url, 'team/app', 'v1', [Buffer.from('team app')]);
    await pushImage(open.url, 'other/app', 'v1', [Buffer.from('other app')]);
  });

  after(async () => {
    await registry.close();
    await open.close();
    await authorizer.close();
    await issuerApp.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('without a token: 401 UNAUTHORIZED with a challenge for pull on the repository', async () => {
    const res = await fetch(`${registry.url}/berth/v1/repositories/team/app/tags`);
    assert.equal(res.status, 401);
    assert.deepEqual(parseChallenge(res.headers.get('www-authenticate')).params, {
      realm,
      service,
      scope: 'repository:team/app:pull',
    });
    const body = await errorBody(res);
    assert.equal(body.errors[0]?.code, 'UNAUTHORIZED');
    assert.deepEqual(body.errors[0]?.detail, [{ Type: 'repository', Name: 'team/app', Action: 'pull' }]);
  });

  it('with the token the challenge asks for: 200', async () => {
    const challenge = await fetch(`${registry.url}/berth/v1/repositories/team/app/tags`);
    const token = await tokenForChallenge(challenge, reader);
    const { entries } = await getTagDetails(registry.url, 'team/app', '', bearer(token));
    assert.deepEqual(
      entries.map((e) => e.name),
      ['v1'],
    );
  });

  it('a token without pull on the repository: 401 insufficient_scope, as /v2 reads answer', async () => {
    const token = await fetchToken(realm, service, ['repository:other/app:pull'], reader);
    const res = await fetch(`${registry.url}/berth/v1/repositories/other/app/tags`, {
      headers: bearer(token),
    });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['error'], 'insufficient_scope');
    assert.equal(await errorCode(res), 'UNAUTHORIZED');
    const v2 = await fetch(`${registry.url}/v2/other/app/tags/list`, { headers: bearer(token) });
    assert.equal(v2.status, 401, 'the tags list answers the same');
    await v2.body?.cancel();
  });

  it('checks the name before the token, and answers NAME_UNKNOWN only to a caller with pull', async () => {
    const invalid = await fetch(`${registry.url}/berth/v1/repositories/Team/App/tags`);
    assert.equal(invalid.status, 400);
    assert.equal(await errorCode(invalid), 'NAME_INVALID');
    const anonymous = await fetch(`${registry.url}/berth/v1/repositories/team/nothing/tags`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const token = await fetchToken(realm, service, ['repository:team/nothing:pull'], reader);
    const unknown = await fetch(`${registry.url}/berth/v1/repositories/team/nothing/tags`, {
      headers: bearer(token),
    });
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'NAME_UNKNOWN');
  });
});
