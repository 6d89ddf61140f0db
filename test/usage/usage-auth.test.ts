// Who may read storage usage: a repository's usage needs pull on it (as its tags do), the registry-wide
// listing needs `registry:catalog:*` (as /v2/_catalog: it names every repository). Tokens are signed here with
// the registry's key, the way the operator signs its own (operator/operations/registry-access.ts), and checked
// by the real token verifier.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AccessRequest } from '../../registry/auth/types.ts';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { TokenSigner } from '../../registry/auth/token-signer.ts';
import { createTokenAuthorizer, type TokenAuthorizer } from '../../registry/auth/token-verifier.ts';
import { bearer, errorBody, parseChallenge } from '../registry/auth-client.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import {
  getRegistryUsage,
  getRepositoryUsage,
  pushUsageFixture,
  type UsageFixture,
} from './usage-scenario.ts';

const service = 'registry.test';
const issuer = 'berth-test-issuer';
const realm = 'http://127.0.0.1:9/auth/token';

describe('storage usage API with token auth', () => {
  let dir: string;
  let authorizer: TokenAuthorizer;
  let signer: TokenSigner;
  let open: TestRegistry;
  let registry: TestRegistry;
  let fixture: UsageFixture;

  const token = async (access: AccessRequest[]): Promise<Record<string, string>> =>
    bearer((await signer.signAccessToken({ issuer, service, access, lifetimeSeconds: 300 })).token);
  const pull = (name: string): AccessRequest[] => [{ type: 'repository', name, actions: ['pull'] }];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-usage-auth-'));
    const pair = await generateSigningKeyPair();
    await writeFile(join(dir, 'token.crt'), pair.certificatePem);
    signer = await TokenSigner.fromPem(pair.privateKeyPem, pair.certificatePem);
    authorizer = await createTokenAuthorizer({
      realm,
      service,
      issuer,
      rootcertbundle: join(dir, 'token.crt'),
    });
    // Content is pushed through an open replica; the second one over the same storage checks tokens.
    open = await startTestRegistry();
    registry = await startTestRegistry({
      authorizer,
      driver: open.services.driver,
      usage: { intervalMs: 3_600_000 },
    });
    fixture = await pushUsageFixture(open.url);
    await registry.usage?.scanNow();
  });

  after(async () => {
    await registry.close();
    await open.close();
    await authorizer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a repository without a token: 401 with a challenge for pull on it', async () => {
    const res = await fetch(`${registry.url}/berth/v1/repositories/team/a/usage`);
    assert.equal(res.status, 401);
    assert.deepEqual(parseChallenge(res.headers.get('www-authenticate')).params, {
      realm,
      service,
      scope: 'repository:team/a:pull',
    });
    assert.equal((await errorBody(res)).errors[0]?.code, 'UNAUTHORIZED');
  });

  it('a repository with pull on it: 200; with pull on another one only: 401 insufficient_scope', async () => {
    const a = await getRepositoryUsage(registry.url, 'team/a', await token(pull('team/a')));
    assert.equal(a.bytes, fixture.expectedA);
    const res = await fetch(`${registry.url}/berth/v1/repositories/team/a/usage`, {
      headers: await token(pull('team/b')),
    });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['error'], 'insufficient_scope');
    await res.body?.cancel();
  });

  it('names an unknown repository only to a caller with pull on it', async () => {
    const unknown = await fetch(`${registry.url}/berth/v1/repositories/team/none/usage`, {
      headers: await token(pull('team/none')),
    });
    assert.equal(unknown.status, 404);
    assert.equal((await errorBody(unknown)).errors[0]?.code, 'NAME_UNKNOWN');
    const anonymous = await fetch(`${registry.url}/berth/v1/repositories/team/none/usage`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  });

  it('the listing without a token: 401 with a challenge for registry:catalog:*', async () => {
    const res = await fetch(`${registry.url}/berth/v1/usage`);
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['scope'], 'registry:catalog:*');
    await res.body?.cancel();
  });

  it('the listing with pull on every repository but not the catalog: 401 insufficient_scope', async () => {
    const res = await fetch(`${registry.url}/berth/v1/usage`, {
      headers: await token([...pull('team/a'), ...pull('team/b')]),
    });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).params['error'], 'insufficient_scope');
    await res.body?.cancel();
  });

  it('the listing with registry:catalog:*: 200', async () => {
    const all = await getRegistryUsage(
      registry.url,
      '',
      await token([{ type: 'registry', name: 'catalog', actions: ['*'] }]),
    );
    assert.equal(all.totalBytes, fixture.expectedTotal);
  });
});
