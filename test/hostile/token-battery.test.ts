// The token battery: forged, stale and over-reaching bearer tokens against the registry API with token auth
// (alg none, HS/RS confusion, expired, nbf, wrong aud/iss, unknown or missing kid with several trusted keys,
// foreign keys, tampering, truncation, scope escalation through crafted names, catalog forgeries, a revoked
// access token replayed). Every one must be refused with 401 and the right WWW-Authenticate error, while correct
// tokens in the same setup are accepted, so the battery fails if the registry refused everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { generateSigningKeyPair, type SigningKeyPair } from '../../registry/auth/keypair.ts';
import { parseChallenge } from '../registry/auth-client.ts';
import { pushImageAs } from '../registry/auth-client.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { rawRequest } from './raw-http.ts';
import { specErrorCodes } from './spec-response.ts';
import { buildAttacks, type Attack } from './token-attacks.ts';
import { issuer, service, tokenSetup, type TokenSetup } from './token-setup.ts';

const repo = 'team/app';
const otherRepo = 'team/other';

describe('token battery', () => {
  let dir: string;
  let tokens: TokenSetup;
  let second: SigningKeyPair;
  let registry: TestRegistry;
  const revoked = new Set<string>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-token-battery-'));
    // A second trusted key: the bundle holds several, so a token must say which one signed it.
    second = await generateSigningKeyPair({ commonName: issuer });
    tokens = await tokenSetup(dir, {
      extraTrusted: [second.certificatePem],
      isRevoked: ({ subject, fingerprint }) => revoked.has(`${subject}/${fingerprint}`),
    });
    registry = await startTestRegistry({ authorizer: tokens.authorizer });
    const token = await tokens.sign([{ type: 'repository', name: repo, actions: ['pull', 'push'] }]);
    await pushImageAs(registry.url, repo, 'v1', token, Buffer.from('battery layer'));
    const other = await tokens.sign([{ type: 'repository', name: otherRepo, actions: ['pull', 'push'] }]);
    await pushImageAs(registry.url, otherRepo, 'v1', other, Buffer.from('other layer'));
  });
  after(async () => {
    await registry.close();
    await tokens.authorizer.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function attempt(token: string, method: string, path: string) {
    return rawRequest(registry.url, { method, path, headers: { Authorization: `Bearer ${token}` } });
  }

  async function assertAccepted(what: string, token: string, method: string, path: string) {
    const res = await attempt(token, method, path);
    assert.ok(res.status < 300, `${what} was refused: ${res.status} ${res.body}`);
  }

  async function assertRejected(attack: Attack) {
    const res = await attempt(attack.token, attack.method, attack.path);
    assert.equal(res.status, 401, `${attack.name}: ${res.status} ${res.body.slice(0, 200)}`);
    assert.deepEqual(specErrorCodes(res), ['UNAUTHORIZED'], attack.name);
    const challenge = parseChallenge(String(res.headers['www-authenticate']));
    assert.equal(challenge.scheme, 'Bearer', attack.name);
    assert.equal(challenge.params['error'], attack.expect, attack.name);
    assert.equal(challenge.params['service'], service, attack.name);
  }

  it('accepts correct tokens in the same setup (either trusted key, x5c or kid only)', async () => {
    const access = [
      { type: 'repository', name: repo, actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ];
    const token = await tokens.sign(access);
    await assertAccepted('pull', token, 'GET', `/v2/${repo}/tags/list`);
    await assertAccepted('push', token, 'POST', `/v2/${repo}/blobs/uploads/`);
    await assertAccepted('catalog', token, 'GET', '/v2/_catalog');
    const t = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: service, exp: t + 300, nbf: t, iat: t, access };
    const bySecond = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: second.keyId })
      .sign(createPrivateKey(second.privateKeyPem));
    await assertAccepted('second key by kid', bySecond, 'GET', `/v2/${repo}/tags/list`);
    // Within the 60 s leeway both ways.
    const edge = await new SignJWT({ ...claims, exp: t - 20, nbf: t + 20 })
      .setProtectedHeader({ alg: 'ES256', kid: tokens.pair.keyId })
      .sign(createPrivateKey(tokens.pair.privateKeyPem));
    await assertAccepted('exp and nbf within the leeway', edge, 'GET', `/v2/${repo}/tags/list`);
  });

  it('refuses every forged, stale or over-reaching token with 401 and the right challenge error', async () => {
    const attacker = await generateSigningKeyPair({ commonName: issuer });
    const attacks = await buildAttacks({ trusted: tokens.pair, attacker, repo, otherRepo });
    const failures: string[] = [];
    for (const attack of attacks) {
      try {
        await assertRejected(attack);
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0] ?? attack.name);
      }
    }
    console.log(`token battery: ${attacks.length - failures.length} of ${attacks.length} attacks rejected`);
    assert.deepEqual(failures, [], `${failures.length} attacks were not rejected as expected`);
    // A floor, so that attacks cannot quietly drop out of the list.
    assert.ok(attacks.length >= 75, `only ${attacks.length} attacks`);
  });

  it('refuses a replayed token whose access token was revoked, and takes the re-created one', async () => {
    const access = [{ type: 'repository', name: repo, actions: ['pull'] }];
    const old = await tokens.sign(access, { subject: 'deploy', fingerprint: 'fpr-old' });
    await assertAccepted('before the revoke', old, 'GET', `/v2/${repo}/tags/list`);
    revoked.add('deploy/fpr-old');
    await assertRejected({
      name: 'revoked replay',
      token: old,
      method: 'GET',
      path: `/v2/${repo}/tags/list`,
      expect: 'invalid_token',
    });
    const renewed = await tokens.sign(access, { subject: 'deploy', fingerprint: 'fpr-new' });
    await assertAccepted('the re-created access token', renewed, 'GET', `/v2/${repo}/tags/list`);
  });
});
