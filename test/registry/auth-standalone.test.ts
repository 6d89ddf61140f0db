// `berth-registry standalone` in process (what `npm start` runs): the first start makes the keypair and an
// admin token and prints it once; the registry and the issuer share one address; the OAuth2 flow the Docker
// CLI uses works against it; anonymous pull is off unless asked for; later starts keep everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { readAccessTokenFile } from '../../registry/auth/access-tokens.ts';
import { standalone, standalonePaths, type StandaloneOptions } from '../../registry/standalone.ts';
import type { RunningRegistry } from '../../registry/serve.ts';
import { freePort } from '../harness/ports.ts';
import { bearer, fetchToken, parseChallenge, pushImageAs } from './auth-client.ts';

/** What a start printed, and the running registry. */
async function start(options: StandaloneOptions): Promise<{ registry: RunningRegistry; printed: string }> {
  let printed = '';
  const registry = await standalone({
    ...options,
    logger: pino({ level: 'silent' }),
    notice: { write: (text: string) => (printed += text) },
  });
  return { registry, printed };
}

/** The Docker CLI's login: the OAuth2 password grant with offline access, then refresh-token grants. */
async function oauth(realm: string, form: Record<string, string>) {
  const res = await fetch(realm, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ service: 'berth-registry', client_id: 'docker', ...form }).toString(),
  });
  const body = (await res.json()) as { access_token?: string; refresh_token?: string };
  return { status: res.status, body };
}

describe('berth-registry standalone', () => {
  let dataDir: string;
  let port: number;
  let secret = '';
  let running: RunningRegistry | undefined;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-standalone-'));
    port = await freePort();
  });
  after(async () => {
    await running?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const realm = () => `http://127.0.0.1:${port}/auth/token`;

  it('first start: generates the keypair and an admin token and prints the token once', async () => {
    const { registry, printed } = await start({ dataDir, addr: `127.0.0.1:${port}` });
    running = registry;
    assert.equal(registry.url, `http://127.0.0.1:${port}`);
    const m = /^ {2}password: (\S+)$/m.exec(printed);
    assert.ok(m?.[1], printed);
    secret = m[1];
    assert.match(printed, /^ {2}username: admin$/m);
    assert.ok(printed.includes(`docker login 127.0.0.1:${port} -u admin --password-stdin`), printed);

    const paths = standalonePaths(dataDir);
    assert.equal((await stat(paths.signingKey)).mode & 0o777, 0o600);
    assert.equal((await stat(paths.accessTokens)).mode & 0o777, 0o600);
    assert.equal((await stat(paths.authDir)).mode & 0o777, 0o700);
    const file = await readAccessTokenFile(paths.accessTokens);
    assert.deepEqual(
      file.tokens.map((t) => [t.name, t.scopes, t.repositories]),
      [['admin', ['read_registry', 'write_registry', 'delete_registry', 'admin_registry'], ['**']]],
    );
    const stored = await readFile(paths.accessTokens, 'utf8');
    assert.ok(!stored.includes(secret), 'the secret itself is stored');
  });

  it('challenges with the realm on its own address; anonymous pull is off', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm()}",service="berth-registry"`);
    const anonymous = await fetchToken(realm(), 'berth-registry', ['repository:library/x:pull']);
    assert.deepEqual(decodeJwt(anonymous)['access'], []);
  });

  it('the admin token logs in the way the Docker CLI does, and pushes, pulls and lists', async () => {
    const login = await oauth(realm(), {
      grant_type: 'password',
      username: 'admin',
      password: secret,
      access_type: 'offline',
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.ok(login.body.refresh_token);

    const base = `http://127.0.0.1:${port}`;
    const scope = 'repository:team/app:pull,push registry:catalog:* registry:maintenance:*';
    const refreshed = await oauth(realm(), {
      grant_type: 'refresh_token',
      refresh_token: login.body.refresh_token,
      scope,
    });
    assert.equal(refreshed.status, 200);
    const token = refreshed.body.access_token;
    assert.ok(token);
    const image = await pushImageAs(base, 'team/app', 'v1', token, randomBytes(32));
    const head = await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'HEAD', headers: bearer(token) });
    assert.equal(head.headers.get('docker-content-digest'), image.digest);
    const catalog = await fetch(`${base}/v2/_catalog`, { headers: bearer(token) });
    assert.deepEqual(await catalog.json(), { repositories: ['team/app'] });
    const maintenance = await fetch(`${base}/berth/v1/maintenance`, { headers: bearer(token) });
    assert.equal(((await maintenance.json()) as { readOnly: boolean }).readOnly, false);
    // Storage is Distribution's layout right under the data dir.
    await stat(join(dataDir, 'docker/registry/v2/repositories/team/app/_manifests'));
  });

  it('a later start keeps keys, token and data, and does not print a secret', async () => {
    await running?.close();
    running = undefined;
    const key = await readFile(standalonePaths(dataDir).signingKey, 'utf8');
    port = await freePort();
    const { registry, printed } = await start({
      dataDir,
      addr: `127.0.0.1:${port}`,
      publicRepositories: ['team/**'],
    });
    running = registry;
    assert.ok(!printed.includes(secret), printed);
    assert.doesNotMatch(printed, /password:/);
    assert.match(printed, /admin access token "admin" exists/);
    assert.match(printed, /access-token create --name NAME/);
    assert.equal(await readFile(standalonePaths(dataDir).signingKey, 'utf8'), key);

    const admin = await fetchToken(realm(), 'berth-registry', ['repository:team/app:pull'], {
      username: 'admin',
      password: secret,
    });
    const pulled = await fetch(`http://127.0.0.1:${port}/v2/team/app/tags/list`, { headers: bearer(admin) });
    assert.deepEqual(await pulled.json(), { name: 'team/app', tags: ['v1'] });

    // --public: anonymous pull of matching repositories, still no push.
    const anonymous = await fetchToken(realm(), 'berth-registry', ['repository:team/app:pull,push']);
    assert.deepEqual(decodeJwt(anonymous)['access'], [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
    const res = await fetch(`http://127.0.0.1:${port}/v2/team/app/tags/list`, { headers: bearer(anonymous) });
    assert.equal(res.status, 200);
    const push = await fetch(`http://127.0.0.1:${port}/v2/team/app/blobs/uploads/`, {
      method: 'POST',
      headers: bearer(anonymous),
    });
    assert.equal(push.status, 401);
    assert.equal(parseChallenge(push.headers.get('www-authenticate')).params['error'], 'insufficient_scope');
  });

  it('refuses a listen port of 0 without --realm (the realm names the port)', async () => {
    await assert.rejects(
      standalone({ dataDir, addr: '127.0.0.1:0', logger: pino({ level: 'silent' }) }),
      /fixed port/,
    );
  });
});
