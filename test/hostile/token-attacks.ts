// Forged, stale and over-reaching bearer tokens for the token battery: each attack is a token, the request it
// is tried on and the WWW-Authenticate error the registry must answer with. Built from the trusted key pair (to
// show that only the attack's one flaw makes the difference) and from an attacker's key pair.
import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SignJWT, base64url, exportJWK, type JWTHeaderParameters } from 'jose';
import type { SigningKeyPair } from '../../registry/auth/keypair.ts';
import { issuer, service } from './token-setup.ts';

export type Expect = 'invalid_token' | 'insufficient_scope';

export interface Attack {
  name: string;
  token: string;
  method: string;
  path: string;
  expect: Expect;
}

export interface AttackKeys {
  trusted: SigningKeyPair;
  attacker: SigningKeyPair;
  /** The repository the correct tokens are for, and one they are not for. */
  repo: string;
  otherRepo: string;
}

type Access = { type: string; name: string; actions: string[] }[];

const now = () => Math.floor(Date.now() / 1000);

function claims(access: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const t = now();
  return { iss: issuer, aud: service, sub: 'battery', exp: t + 300, nbf: t, iat: t, access, ...overrides };
}

function x5cOf(pair: SigningKeyPair): string[] {
  const body = pair.certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  return [body];
}

async function sign(
  payload: Record<string, unknown>,
  key: KeyObject | Uint8Array,
  header: JWTHeaderParameters,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const enc = (v: unknown) => base64url.encode(JSON.stringify(v));
  return `${enc(header)}.${enc(payload)}.`;
}

/** ES256 over any header, for headers jose will not sign (an unknown `crit`). */
function signRaw(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const enc = (v: unknown) => base64url.encode(JSON.stringify(v));
  const input = `${enc(header)}.${enc(payload)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${base64url.encode(signature)}`;
}

/** Replaces the payload of a signed token, keeping its header and signature. */
function withPayload(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split('.');
  return `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
}

export async function buildAttacks({ trusted, attacker, repo, otherRepo }: AttackKeys): Promise<Attack[]> {
  const trustedKey = createPrivateKey(trusted.privateKeyPem);
  const attackerKey = createPrivateKey(attacker.privateKeyPem);
  const publicPem = createPublicKey(trustedKey).export({ type: 'spki', format: 'pem' }).toString();
  const publicDer = createPublicKey(trustedKey).export({ type: 'spki', format: 'der' });
  const good: JWTHeaderParameters = { alg: 'ES256', typ: 'JWT', kid: trusted.keyId, x5c: x5cOf(trusted) };
  const pull: Access = [{ type: 'repository', name: repo, actions: ['pull'] }];
  const all: Access = [{ type: 'repository', name: repo, actions: ['pull', 'push', 'delete'] }];
  const read = { method: 'GET', path: `/v2/${repo}/tags/list` };
  const write = { method: 'POST', path: `/v2/${repo}/blobs/uploads/` };
  const catalog = { method: 'GET', path: '/v2/_catalog' };
  const attacks: Attack[] = [];
  const add = (name: string, token: string, request: { method: string; path: string }, expect: Expect) =>
    attacks.push({ name, token, ...request, expect });
  const bad = (name: string, token: string) => add(name, token, read, 'invalid_token');
  const scope = (name: string, token: string, request = read) =>
    add(name, token, request, 'insufficient_scope');
  const t = now();
  const parent = repo.slice(0, repo.indexOf('/'));

  // Algorithm attacks.
  for (const header of [
    { alg: 'none', typ: 'JWT' },
    { alg: 'none', typ: 'JWT', kid: trusted.keyId },
    { alg: 'None', typ: 'JWT', kid: trusted.keyId, x5c: x5cOf(trusted) },
    { alg: 'NONE', typ: 'JWT', kid: trusted.keyId },
  ]) {
    bad(`alg ${header.alg}${header.kid ? ' with kid' : ''}`, unsigned(header, claims(all)));
  }
  // RS/HS confusion: the public key (in every form an attacker could fetch) as the HMAC secret.
  const pemSecret = new TextEncoder().encode(publicPem);
  const secrets: [string, Uint8Array][] = [
    ['public key PEM', pemSecret],
    ['public key DER', new Uint8Array(publicDer)],
    ['certificate PEM', new TextEncoder().encode(trusted.certificatePem)],
  ];
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    for (const [what, secret] of secrets) {
      bad(`${alg} keyed with the ${what}, kid`, await sign(claims(all), secret, { alg, kid: trusted.keyId }));
    }
    bad(
      `${alg} keyed with the public key PEM, x5c`,
      await sign(claims(all), pemSecret, { alg, x5c: x5cOf(trusted) }),
    );
  }
  // Time claims (60 s leeway: these are well past it).
  bad(
    'expired an hour ago',
    await sign(claims(all, { exp: t - 3600, nbf: t - 4000, iat: t - 4000 }), trustedKey, good),
  );
  bad('expired past the leeway', await sign(claims(all, { exp: t - 120 }), trustedKey, good));
  bad('nbf an hour ahead', await sign(claims(all, { nbf: t + 3600, exp: t + 7200 }), trustedKey, good));
  bad('no exp', await sign(claims(all, { exp: undefined }), trustedKey, good));
  bad('exp as a string', await sign(claims(all, { exp: String(t + 300) }), trustedKey, good));
  // Audience and issuer.
  bad('wrong aud', await sign(claims(all, { aud: 'another.registry' }), trustedKey, good));
  bad('aud list without us', await sign(claims(all, { aud: ['a', `${service}.evil`] }), trustedKey, good));
  bad('no aud', await sign(claims(all, { aud: undefined }), trustedKey, good));
  bad('wrong iss', await sign(claims(all, { iss: 'evil-issuer' }), trustedKey, good));
  bad('iss differing in case', await sign(claims(all, { iss: issuer.toUpperCase() }), trustedKey, good));
  bad('no iss', await sign(claims(all, { iss: undefined }), trustedKey, good));
  // Keys.
  bad('unknown kid', await sign(claims(all), trustedKey, { alg: 'ES256', kid: 'no-such-key' }));
  bad('no kid, x5c or jwk (several keys trusted)', await sign(claims(all), trustedKey, { alg: 'ES256' }));
  bad(
    'attacker key, own self-signed x5c',
    await sign(claims(all), attackerKey, { alg: 'ES256', x5c: x5cOf(attacker) }),
  );
  bad(
    'attacker key, trusted x5c',
    await sign(claims(all), attackerKey, { alg: 'ES256', x5c: x5cOf(trusted) }),
  );
  bad(
    'attacker key, trusted kid',
    await sign(claims(all), attackerKey, { alg: 'ES256', kid: trusted.keyId }),
  );
  const attackerJwk = await exportJWK(createPublicKey(attackerKey));
  bad(
    'attacker key in a jwk header',
    await sign(claims(all), attackerKey, { alg: 'ES256', jwk: attackerJwk }),
  );
  bad(
    'attacker jwk naming the trusted kid',
    await sign(claims(all), attackerKey, { alg: 'ES256', jwk: { ...attackerJwk, kid: trusted.keyId } }),
  );
  bad('unknown crit header', signRaw({ ...good, crit: ['x-evil'], 'x-evil': 1 }, claims(all), trustedKey));
  // Tampering.
  const valid = await sign(claims(pull), trustedKey, good);
  const [h, p, s] = valid.split('.') as [string, string, string];
  const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
  bad('signature with one character changed', `${h}.${p}.${flipped}`);
  bad('signature removed', `${h}.${p}.`);
  bad('signature of another token', `${h}.${p}.${(await sign(claims(all), trustedKey, good)).split('.')[2]}`);
  bad('payload widened to push, old signature', withPayload(valid, claims(all)));
  bad(
    'payload widened to the catalog, old signature',
    withPayload(valid, claims([{ type: 'registry', name: 'catalog', actions: ['*'] }])),
  );
  bad('truncated by one character', valid.slice(0, -1));
  bad('truncated to header and payload', `${h}.${p}`);
  bad('truncated to the header', h);
  bad('extra segment', `${valid}.${s}`);
  bad('empty segments', '..');
  bad('whitespace inside', `${h}. ${p}.${s}`);
  bad(
    'access claim not a list',
    await sign(claims({ type: 'repository', name: repo, actions: ['*'] }), trustedKey, good),
  );
  bad('access entries not objects', await sign(claims([`repository:${repo}:*`]), trustedKey, good));
  // Scope escalation through crafted names and types: each token is correctly signed and must not reach `repo`.
  const crafted: [string, Access][] = [
    ['another repository', [{ type: 'repository', name: otherRepo, actions: ['*'] }]],
    ['a parent path', [{ type: 'repository', name: parent, actions: ['*'] }]],
    ['`..` back into it', [{ type: 'repository', name: `${otherRepo}/../${repo}`, actions: ['*'] }]],
    ['`./` spelling', [{ type: 'repository', name: `./${repo}`, actions: ['*'] }]],
    ['a `*` name', [{ type: 'repository', name: '*', actions: ['*'] }]],
    ['a `prefix/*` name', [{ type: 'repository', name: `${parent}/*`, actions: ['*'] }]],
    ['a `**` name', [{ type: 'repository', name: '**', actions: ['*'] }]],
    ['uppercase name', [{ type: 'repository', name: repo.toUpperCase(), actions: ['*'] }]],
    ['trailing slash', [{ type: 'repository', name: `${repo}/`, actions: ['*'] }]],
    ['leading slash', [{ type: 'repository', name: `/${repo}`, actions: ['*'] }]],
    ['doubled slash', [{ type: 'repository', name: repo.replace('/', '//'), actions: ['*'] }]],
    ['trailing NUL', [{ type: 'repository', name: `${repo}\u0000`, actions: ['*'] }]],
    ['trailing space', [{ type: 'repository', name: `${repo} `, actions: ['*'] }]],
    ['percent-encoded slash', [{ type: 'repository', name: repo.replace('/', '%2F'), actions: ['*'] }]],
    ['fullwidth look-alike', [{ type: 'repository', name: repo.replace('a', '\uff41'), actions: ['*'] }]],
    ['empty name', [{ type: 'repository', name: '', actions: ['*'] }]],
    ['registry type for the repository', [{ type: 'registry', name: repo, actions: ['*'] }]],
    ['uppercase type', [{ type: 'Repository', name: repo, actions: ['*'] }]],
    ['type with a class', [{ type: 'repository(plugin)', name: repo, actions: ['*'] }]],
    ['uppercase action', [{ type: 'repository', name: repo, actions: ['PULL'] }]],
    ['action `all`', [{ type: 'repository', name: repo, actions: ['all'] }]],
    ['no actions', [{ type: 'repository', name: repo, actions: [] }]],
    ['a `*,pull` action', [{ type: 'repository', name: repo, actions: ['*,pull'] }]],
  ];
  for (const [what, access] of crafted) scope(`scope: ${what}`, await sign(claims(access), trustedKey, good));
  scope('pull token used to push', await sign(claims(pull), trustedKey, good), write);
  scope('pull token used to delete', await sign(claims(pull), trustedKey, good), {
    method: 'DELETE',
    path: `/v2/${repo}/manifests/sha256:${'0'.repeat(64)}`,
  });
  scope('token for one repository used on another', await sign(claims(all), trustedKey, good), {
    method: 'GET',
    path: `/v2/${otherRepo}/tags/list`,
  });
  // Catalog forgeries.
  for (const [what, access] of [
    ['repository named catalog', [{ type: 'repository', name: 'catalog', actions: ['*'] }]],
    ['registry `*`', [{ type: 'registry', name: '*', actions: ['*'] }]],
    ['registry catalog, pull only', [{ type: 'registry', name: 'catalog', actions: ['pull'] }]],
    ['repository access only', all],
  ] as [string, Access][]) {
    scope(`catalog: ${what}`, await sign(claims(access), trustedKey, good), catalog);
  }
  add(
    'catalog: registry:catalog:* signed by the attacker',
    await sign(claims([{ type: 'registry', name: 'catalog', actions: ['*'] }]), attackerKey, {
      alg: 'ES256',
      x5c: x5cOf(attacker),
    }),
    catalog,
    'invalid_token',
  );
  return attacks;
}
