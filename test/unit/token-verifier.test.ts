// Registry-side token verification against real keys and certificates (made with registry/auth/keypair.ts)
// and real jose signatures: every rejection case of issue 3, the accepted forms, leeway, kid/JWKS, rotation.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, base64url, exportJWK, type JWTPayload } from 'jose';
import { isRegistryError, type RegistryError } from '../../registry/errors.ts';
import { jwkThumbprint, libtrustKeyId } from '../../registry/auth/keys.ts';
import {
  createCertificate,
  generatePrivateKey,
  generateSigningKeyPair,
} from '../../registry/auth/keypair.ts';
import { createTokenAuthorizer, type TokenAuthorizerOptions } from '../../registry/auth/token-verifier.ts';
import type { AccessRequest, Authorizer } from '../../registry/auth/types.ts';

const realm = 'https://auth.example.test/auth/token';
const service = 'registry.example.test';
const issuer = 'berth-test-issuer';

interface Signer {
  key: KeyObject;
  certPem: string;
  alg: string;
  x5c: string[];
}

function signerFrom(privateKeyPem: string, certPem: string, chainPems: string[] = []): Signer {
  const key = createPrivateKey(privateKeyPem);
  const alg = key.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256';
  const x5c = [certPem, ...chainPems].map((p) => new X509Certificate(p).raw.toString('base64'));
  return { key, certPem, alg, x5c };
}

const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer,
    sub: 'alice',
    aud: service,
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    jti: 'jti-1',
    access: [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }],
    ...overrides,
  };
}

type Header = { x5c?: string[]; kid?: string; jwk?: object; alg?: string };

async function sign(signer: Signer, payload: JWTPayload = claims(), header: Header = { x5c: signer.x5c }) {
  return new SignJWT(payload).setProtectedHeader({ alg: signer.alg, typ: 'JWT', ...header }).sign(signer.key);
}

const pull = (name: string): AccessRequest => ({ type: 'repository', name, actions: ['pull'] });
const push = (name: string): AccessRequest => ({ type: 'repository', name, actions: ['pull', 'push'] });

async function rejected(
  p: Promise<unknown>,
  error?: 'invalid_token' | 'insufficient_scope',
): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isRegistryError(err), `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.equal(err.status, 401);
    const challenge = err.headers['WWW-Authenticate'] ?? '';
    assert.match(challenge, /^Bearer realm="[^"]+",service="[^"]+"/);
    if (error) assert.ok(challenge.endsWith(`,error="${error}"`), challenge);
    else assert.doesNotMatch(challenge, /error=/);
    return err;
  }
  assert.fail('expected the request to be refused');
}

describe('token verifier', () => {
  let dir: string;
  let issuerA: Signer; // self-signed, in the bundle
  let issuerB: Signer; // RSA, self-signed, for rotation
  let ca: { privateKeyPem: string; certificatePem: string };
  let caLeaf: Signer; // signed by the bundle CA
  let chainLeaf: Signer; // CA -> intermediate -> leaf
  let untrustedLeaf: Signer; // signed by a CA outside the bundle, chain included
  let stranger: Signer; // self-signed, not in the bundle
  let jwksSigner: Signer;
  let bundle: string;
  let jwksPath: string;
  let auth: Authorizer;
  const closers: Authorizer[] = [];

  async function authorizer(options: Partial<TokenAuthorizerOptions> = {}) {
    const a = await createTokenAuthorizer({
      realm,
      service,
      issuer,
      rootcertbundle: bundle,
      jwks: jwksPath,
      ...options,
    });
    closers.push(a);
    return a;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-verifier-'));
    const a = await generateSigningKeyPair({ commonName: 'issuer a' });
    issuerA = signerFrom(a.privateKeyPem, a.certificatePem);
    const b = await generateSigningKeyPair({ commonName: 'issuer b', algorithm: 'RS256' });
    issuerB = signerFrom(b.privateKeyPem, b.certificatePem);
    ca = await generateSigningKeyPair({ commonName: 'test root ca' });
    const pem = async () =>
      (await generatePrivateKey('ES256')).export({ type: 'pkcs8', format: 'pem' }).toString();
    const leafKey = await pem();
    caLeaf = signerFrom(
      leafKey,
      await createCertificate(leafKey, { commonName: 'ca leaf', issuer: ca, ca: false }),
    );
    const intermediateKey = await pem();
    const intermediate = {
      privateKeyPem: intermediateKey,
      certificatePem: await createCertificate(intermediateKey, {
        commonName: 'intermediate',
        issuer: ca,
        ca: true,
      }),
    };
    const chainKey = await pem();
    chainLeaf = signerFrom(
      chainKey,
      await createCertificate(chainKey, { commonName: 'chain leaf', issuer: intermediate, ca: false }),
      [intermediate.certificatePem],
    );
    const rogueCa = await generateSigningKeyPair({ commonName: 'test root ca' }); // same name, other key
    const rogueKey = await pem();
    untrustedLeaf = signerFrom(
      rogueKey,
      await createCertificate(rogueKey, { commonName: 'ca leaf', issuer: rogueCa, ca: false }),
      [rogueCa.certificatePem],
    );
    const s = await generateSigningKeyPair({ commonName: 'stranger' });
    stranger = signerFrom(s.privateKeyPem, s.certificatePem);
    const j = await generatePrivateKey('ES256');
    jwksSigner = { key: j, certPem: '', alg: 'ES256', x5c: [] };
    jwksPath = join(dir, 'jwks.json');
    await writeFile(
      jwksPath,
      JSON.stringify({
        keys: [{ ...(await exportJWK(j)), d: undefined, kid: 'jwks-key-1', alg: 'ES256', use: 'sig' }],
      }),
    );
    bundle = join(dir, 'bundle.pem');
    await writeFile(bundle, issuerA.certPem + ca.certificatePem);
    auth = await authorizer();
  });

  after(async () => {
    for (const a of closers) await a.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('accepts', () => {
    it('an x5c token whose certificate is in the bundle, and reports subject and access', async () => {
      const ctx = await auth.authorize(`Bearer ${await sign(issuerA)}`, [push('a')]);
      assert.equal(ctx.subject, 'alice');
      assert.equal(ctx.allows(pull('a')), true);
      assert.equal(ctx.allows(pull('b')), false);
      assert.equal(ctx.allows({ type: 'repository', name: 'a', actions: ['delete'] }), false);
    });

    it('x5c chains that reach a bundle CA, directly or through an intermediate', async () => {
      await auth.authorize(`Bearer ${await sign(caLeaf)}`, [pull('a')]);
      await auth.authorize(`Bearer ${await sign(chainLeaf)}`, [pull('a')]);
    });

    it('kid as the RFC 7638 thumbprint or the libtrust id of a bundle certificate', async () => {
      const cert = new X509Certificate(issuerA.certPem);
      await auth.authorize(
        `Bearer ${await sign(issuerA, claims(), { kid: await jwkThumbprint(cert.publicKey) })}`,
        [pull('a')],
      );
      await auth.authorize(
        `Bearer ${await sign(issuerA, claims(), { kid: libtrustKeyId(cert.publicKey) })}`,
        [pull('a')],
      );
    });

    it('kid naming a JWKS key', async () => {
      await auth.authorize(`Bearer ${await sign(jwksSigner, claims(), { kid: 'jwks-key-1' })}`, [pull('a')]);
    });

    it('a jwk header only when it is a trusted key', async () => {
      const cert = new X509Certificate(issuerA.certPem);
      const jwk = cert.publicKey.export({ format: 'jwk' });
      await auth.authorize(`Bearer ${await sign(issuerA, claims(), { jwk })}`, [pull('a')]);
      const strangerJwk = new X509Certificate(stranger.certPem).publicKey.export({ format: 'jwk' });
      await rejected(
        auth.authorize(`Bearer ${await sign(stranger, claims(), { jwk: strangerJwk })}`, [pull('a')]),
        'invalid_token',
      );
      // A trusted key's thumbprint is not enough when the header's own key signed: the trusted key is used.
      const kid = await jwkThumbprint(cert.publicKey);
      await rejected(
        auth.authorize(`Bearer ${await sign(stranger, claims(), { jwk: { ...strangerJwk, kid } })}`, [
          pull('a'),
        ]),
        'invalid_token',
      );
    });

    it('exp and nbf within the 60 s leeway', async () => {
      await auth.authorize(`Bearer ${await sign(issuerA, claims({ exp: now() - 30 }))}`, [pull('a')]);
      await auth.authorize(`Bearer ${await sign(issuerA, claims({ nbf: now() + 30, iat: now() + 30 }))}`, [
        pull('a'),
      ]);
    });

    it('an audience list holding the service, and `*` granting every action', async () => {
      const token = await sign(
        issuerA,
        claims({ aud: ['other', service], access: [{ type: 'repository', name: 'a', actions: ['*'] }] }),
      );
      const ctx = await auth.authorize(`Bearer ${token}`, [
        push('a'),
        { type: 'repository', name: 'a', actions: ['delete'] },
      ]);
      assert.equal(ctx.allows(push('a')), true);
    });

    it('any valid token for an empty access list (GET /v2/), even without an access claim', async () => {
      const ctx = await auth.authorize(
        `Bearer ${await sign(issuerA, claims({ access: undefined, sub: undefined }))}`,
        [],
      );
      assert.equal(ctx.subject, undefined);
      assert.equal(ctx.allows(pull('a')), false);
    });

    it('the catalog with registry:catalog:*', async () => {
      const token = await sign(
        issuerA,
        claims({ access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] }),
      );
      await auth.authorize(`Bearer ${token}`, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA)}`, [
          { type: 'registry', name: 'catalog', actions: ['*'] },
        ]),
        'insufficient_scope',
      );
    });
  });

  describe('rejects', () => {
    it('no token or a non-Bearer credential with a plain challenge naming the needed scope', async () => {
      const err = await rejected(auth.authorize(undefined, [push('team/app'), pull('base/img')]));
      assert.equal(
        err.headers['WWW-Authenticate'],
        `Bearer realm="${realm}",service="${service}",scope="repository:team/app:pull,push repository:base/img:pull"`,
      );
      assert.deepEqual(err.detail, [
        { Type: 'repository', Name: 'team/app', Action: 'pull' },
        { Type: 'repository', Name: 'team/app', Action: 'push' },
        { Type: 'repository', Name: 'base/img', Action: 'pull' },
      ]);
      assert.deepEqual(err.toJSON().errors[0]?.code, 'UNAUTHORIZED');
      await rejected(auth.authorize('Basic YWxpY2U6c2VjcmV0', [pull('a')]));
      const base = await rejected(auth.authorize(undefined, []));
      assert.equal(base.headers['WWW-Authenticate'], `Bearer realm="${realm}",service="${service}"`);
      assert.equal(base.detail, undefined);
    });

    it('malformed tokens', async () => {
      await rejected(auth.authorize('Bearer not-a-jwt', [pull('a')]), 'invalid_token');
      await rejected(auth.authorize('Bearer a.b.c', [pull('a')]), 'invalid_token');
    });

    it('a token signed by an unknown key (kid or self-signed x5c)', async () => {
      const cert = new X509Certificate(stranger.certPem);
      await rejected(
        auth.authorize(
          `Bearer ${await sign(stranger, claims(), { kid: await jwkThumbprint(cert.publicKey) })}`,
          [pull('a')],
        ),
        'invalid_token',
      );
      await rejected(auth.authorize(`Bearer ${await sign(stranger)}`, [pull('a')]), 'invalid_token');
      await rejected(
        auth.authorize(`Bearer ${await sign(stranger, claims(), {})}`, [pull('a')]),
        'invalid_token',
      );
      // A trusted kid over a signature by another key.
      const kid = await jwkThumbprint(new X509Certificate(issuerA.certPem).publicKey);
      await rejected(
        auth.authorize(`Bearer ${await sign(stranger, claims(), { kid })}`, [pull('a')]),
        'invalid_token',
      );
      // A trusted certificate in x5c over a signature by another key.
      await rejected(
        auth.authorize(`Bearer ${await sign(stranger, claims(), { x5c: issuerA.x5c })}`, [pull('a')]),
        'invalid_token',
      );
    });

    it('alg: none', async () => {
      const enc = (o: object) => base64url.encode(JSON.stringify(o));
      const kid = await jwkThumbprint(new X509Certificate(issuerA.certPem).publicKey);
      for (const header of [
        { alg: 'none', typ: 'JWT' },
        { alg: 'none', kid },
        { alg: 'none', x5c: issuerA.x5c },
      ]) {
        const token = `${enc(header)}.${enc(claims())}.`;
        await rejected(auth.authorize(`Bearer ${token}`, [pull('a')]), 'invalid_token');
      }
    });

    it('HS256 keyed with the public certificate (algorithm confusion), even when HS256 is configured', async () => {
      const cert = new X509Certificate(issuerA.certPem);
      const kid = await jwkThumbprint(cert.publicKey);
      const spkiPem = cert.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const permissive = await authorizer({ signingalgorithms: ['HS256', 'ES256'] });
      for (const secret of [issuerA.certPem, spkiPem, cert.raw]) {
        const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : new Uint8Array(secret);
        for (const header of [{ kid }, { x5c: issuerA.x5c }]) {
          const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', ...header }).sign(key);
          await rejected(auth.authorize(`Bearer ${token}`, [pull('a')]), 'invalid_token');
          await rejected(permissive.authorize(`Bearer ${token}`, [pull('a')]), 'invalid_token');
        }
      }
    });

    it('an algorithm outside signingalgorithms', async () => {
      const rsOnly = await authorizer({ signingalgorithms: ['RS256'] });
      await rejected(rsOnly.authorize(`Bearer ${await sign(issuerA)}`, [pull('a')]), 'invalid_token');
    });

    it('expired (past the leeway), and without exp', async () => {
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ exp: now() - 90 }))}`, [pull('a')]),
        'invalid_token',
      );
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ exp: undefined }))}`, [pull('a')]),
        'invalid_token',
      );
    });

    it('not yet valid (past the leeway)', async () => {
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ nbf: now() + 90 }))}`, [pull('a')]),
        'invalid_token',
      );
    });

    it('wrong iss', async () => {
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ iss: 'someone-else' }))}`, [pull('a')]),
        'invalid_token',
      );
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ iss: undefined }))}`, [pull('a')]),
        'invalid_token',
      );
    });

    it('wrong aud', async () => {
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ aud: 'other-registry' }))}`, [pull('a')]),
        'invalid_token',
      );
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims({ aud: undefined }))}`, [pull('a')]),
        'invalid_token',
      );
    });

    it('a token for repository a used on b, and push with a pull-only token', async () => {
      const token = await sign(issuerA);
      const err = await rejected(auth.authorize(`Bearer ${token}`, [pull('b')]), 'insufficient_scope');
      assert.equal(
        err.headers['WWW-Authenticate'],
        `Bearer realm="${realm}",service="${service}",scope="repository:b:pull",error="insufficient_scope"`,
      );
      const pullOnly = await sign(
        issuerA,
        claims({ access: [{ type: 'repository', name: 'a', actions: ['pull'] }] }),
      );
      await rejected(auth.authorize(`Bearer ${pullOnly}`, [push('a')]), 'insufficient_scope');
      // A mount: the target is granted, the source is not; the HTTP layer asks allows() for the source.
      const ctx = await auth.authorize(`Bearer ${token}`, [push('a')]);
      assert.equal(ctx.allows(pull('b')), false);
    });

    it('a tampered access claim', async () => {
      const token = await sign(issuerA);
      const [h, p, s] = token.split('.') as [string, string, string];
      const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as JWTPayload;
      payload.access = [{ type: 'repository', name: 'b', actions: ['pull', 'push', 'delete'] }];
      const forged = `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
      await rejected(auth.authorize(`Bearer ${forged}`, [pull('b')]), 'invalid_token');
    });

    it('an access claim of the wrong shape', async () => {
      const token = await sign(issuerA, claims({ access: { type: 'repository', name: 'a' } }));
      await rejected(auth.authorize(`Bearer ${token}`, [pull('a')]), 'invalid_token');
    });

    it('an x5c chain that does not reach the bundle', async () => {
      await rejected(auth.authorize(`Bearer ${await sign(untrustedLeaf)}`, [pull('a')]), 'invalid_token');
      // The leaf alone, its issuer unknown.
      await rejected(
        auth.authorize(
          `Bearer ${await sign(untrustedLeaf, claims(), { x5c: untrustedLeaf.x5c.slice(0, 1) })}`,
          [pull('a')],
        ),
        'invalid_token',
      );
      // A valid trusted kid does not rescue a failing x5c.
      const kid = await jwkThumbprint(new X509Certificate(issuerA.certPem).publicKey);
      await rejected(
        auth.authorize(`Bearer ${await sign(issuerA, claims(), { x5c: stranger.x5c, kid })}`, [pull('a')]),
        'invalid_token',
      );
      // A non-CA leaf cannot act as an intermediate.
      const x5c = [untrustedLeaf.x5c[0] ?? '', caLeaf.x5c[0] ?? ''];
      await rejected(
        auth.authorize(`Bearer ${await sign(untrustedLeaf, claims(), { x5c })}`, [pull('a')]),
        'invalid_token',
      );
    });
  });

  it('builds the realm from the request with autoredirect', async () => {
    const redirecting = await authorizer({ autoredirect: true, autoredirectpath: '/auth/token' });
    const err = await rejected(
      redirecting.authorize(undefined, [pull('a')], { host: 'reg.example:5000', forwardedProto: 'http' }),
    );
    assert.equal(
      err.headers['WWW-Authenticate'],
      `Bearer realm="http://reg.example:5000/auth/token",service="${service}",scope="repository:a:pull"`,
    );
    const https = await rejected(redirecting.authorize(undefined, [], { host: 'reg.example' }));
    assert.match(
      https.headers['WWW-Authenticate'] ?? '',
      /^Bearer realm="https:\/\/reg\.example\/auth\/token"/,
    );
  });

  it('refuses configurations it cannot enforce', async () => {
    await assert.rejects(createTokenAuthorizer({ realm, service, issuer }), /at least one token signing key/);
    await assert.rejects(
      createTokenAuthorizer({ realm, service, issuer, rootcertbundle: bundle, signingalgorithms: ['HS256'] }),
      /symmetric/,
    );
    await assert.rejects(
      createTokenAuthorizer({ realm, service, issuer, rootcertbundle: bundle, signingalgorithms: ['XX1'] }),
      /unsupported/,
    );
    await assert.rejects(
      createTokenAuthorizer({ realm, service, issuer, rootcertbundle: join(dir, 'missing.pem') }),
      /cannot read/,
    );
    const symmetric = join(dir, 'oct.json');
    await writeFile(symmetric, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'x' }] }));
    await assert.rejects(createTokenAuthorizer({ realm, service, issuer, jwks: symmetric }), /symmetric/);
  });

  it('never serves a cached verification past exp (+ leeway)', async () => {
    let clock = Date.now();
    const timed = await authorizer({ clock: () => new Date(clock) });
    const token = await sign(issuerA, claims({ exp: Math.floor(clock / 1000) + 10 }));
    await timed.authorize(`Bearer ${token}`, [pull('a')]);
    clock += 30_000; // past exp, within the leeway: verified again and accepted
    await timed.authorize(`Bearer ${token}`, [pull('a')]);
    clock += 45_000; // past exp + 60 s
    await rejected(timed.authorize(`Bearer ${token}`, [pull('a')]), 'invalid_token');
  });

  describe('key rotation', () => {
    it('accepts old and new keys while both are in the bundle; after reload without the old one, old tokens fail', async () => {
      const rotating = join(dir, 'rotating.pem');
      await writeFile(rotating, issuerA.certPem + issuerB.certPem);
      const reg = await authorizer({ rootcertbundle: rotating, jwks: undefined });
      const oldToken = await sign(issuerA);
      const oldKidToken = await sign(issuerA, claims(), {
        kid: await jwkThumbprint(new X509Certificate(issuerA.certPem).publicKey),
      });
      const newToken = await sign(issuerB);
      await reg.authorize(`Bearer ${oldToken}`, [pull('a')]);
      await reg.authorize(`Bearer ${oldKidToken}`, [pull('a')]);
      await reg.authorize(`Bearer ${newToken}`, [pull('a')]);

      await writeFile(rotating, issuerB.certPem);
      await reg.reload();
      await rejected(reg.authorize(`Bearer ${oldToken}`, [pull('a')]), 'invalid_token'); // was cached before
      await rejected(reg.authorize(`Bearer ${oldKidToken}`, [pull('a')]), 'invalid_token');
      await reg.authorize(`Bearer ${newToken}`, [pull('a')]);
    });

    it('keeps the current keys when a reload fails', async () => {
      const path = join(dir, 'failing.pem');
      await writeFile(path, issuerA.certPem);
      const reg = await authorizer({ rootcertbundle: path, jwks: undefined });
      await writeFile(path, '');
      await assert.rejects(reg.reload(), /at least one token signing key/);
      await reg.authorize(`Bearer ${await sign(issuerA)}`, [pull('a')]);
    });

    it('picks up a changed bundle by itself when watching', async () => {
      const path = join(dir, 'watched.pem');
      await writeFile(path, issuerA.certPem);
      const reg = await authorizer({ rootcertbundle: path, jwks: undefined, watchIntervalMs: 20 });
      const newToken = await sign(issuerB);
      await rejected(reg.authorize(`Bearer ${newToken}`, [pull('a')]), 'invalid_token');
      await writeFile(path, issuerB.certPem);
      const deadline = Date.now() + 3000;
      for (;;) {
        try {
          await reg.authorize(`Bearer ${newToken}`, [pull('a')]);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await rejected(reg.authorize(`Bearer ${await sign(issuerA)}`, [pull('a')]), 'invalid_token');
    });
  });
});
