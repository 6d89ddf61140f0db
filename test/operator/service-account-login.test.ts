// ServiceAccount logins of the token issuer (registry/auth/service-account.ts) against the REAL kube-apiserver:
// `berth-registry token-server` with a `kubernetes:` section reviews ServiceAccount tokens with TokenReview,
// authenticating with its own ServiceAccount's token (bound to system:auth-delegator) and verifying the API
// server's certificate with the cluster CA. `berth-registry serve` trusts the issuer, and skopeo pushes and
// pulls with `serviceaccount:<token>`. The rule: `system:serviceaccount:<ns>:<name>` may pull and push `<ns>/**`,
// never delete, no catalog; `namespaces` limits which namespaces may log in; deleting the ServiceAccount ends its
// logins once the issuer's cache entry expires.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt } from 'jose';
import {
  authIssuer,
  authService,
  startTokenServer,
  tokenAuthConfig,
  writeSigningKeyPair,
  type KeyFiles,
  type RunningTokenServer,
} from '../harness/auth.ts';
import { startBerth } from '../harness/berth.ts';
import { removeClientState, skopeo } from '../harness/clients.ts';
import { createServiceAccountToken, startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { buildImage, writeOciLayout } from '../harness/oci-image.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const issuerAccount = { namespace: 'berth-system', name: 'berth-token-issuer' };
const builder = { namespace: 'team-a', name: 'builder' };
/** The issuer reuses a successful review this long; revocation must show after it. */
const cacheSeconds = 1;

interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

interface Login {
  status: number;
  body: Record<string, unknown>;
  /** The decoded access token's `access` claim (undefined when no token came back). */
  access?: AccessEntry[];
  sub?: string;
}

/** GET <realm>?service=...&scope=... with Basic credentials, as a registry client asks. */
async function login(
  issuer: { realm: string },
  username: string,
  password: string,
  scopes: readonly string[] = [],
): Promise<Login> {
  const url = new URL(issuer.realm);
  url.searchParams.set('service', authService);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const res = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`the issuer answered HTTP ${String(res.status)} with a body that is not JSON: ${text}`);
  }
  const result: Login = { status: res.status, body };
  if (typeof body['token'] === 'string') {
    const claims = decodeJwt(body['token']);
    assert.equal(claims.iss, authIssuer);
    assert.equal(claims.aud, authService);
    result.access = claims['access'] as AccessEntry[];
    if (claims.sub !== undefined) result.sub = claims.sub;
  }
  return result;
}

/** A short description of an answer for assertion messages (the errors, or that a token came back). */
function why(result: Login): string {
  const errors = result.body['errors'];
  const what =
    errors === undefined ? `a token granting ${JSON.stringify(result.access)}` : JSON.stringify(errors);
  return `HTTP ${String(result.status)}: ${what}`;
}

/** The actions the token grants on repository `name`, sorted (empty when it grants nothing). */
function actionsOn(result: Login, name: string): string[] {
  assert.equal(result.status, 200, `login failed: ${why(result)}`);
  assert.ok(result.access, 'no access claim in the token');
  return result.access
    .filter((a) => a.type === 'repository' && a.name === name)
    .flatMap((a) => a.actions)
    .sort();
}

/** The same token with one character of its signature changed (not the last one: its low bits are padding). */
function forge(token: string): string {
  const at = token.lastIndexOf('.') + 10;
  const c = token[at];
  assert.ok(c !== undefined, 'token too short');
  return `${token.slice(0, at)}${c === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
}

describe('ServiceAccount logins to the token issuer, against the real kube-apiserver', () => {
  let cp: ControlPlane | undefined;
  let keys: KeyFiles | undefined;
  let issuer: RunningTokenServer | undefined;
  let registry: RunningRegistry | undefined;
  let undelegated: RunningTokenServer | undefined;
  let untrusting: RunningTokenServer | undefined;
  let dir = '';
  let builderToken = '';
  const image = buildImage({ layerBytes: 8192 });
  const report = failureReport();

  /** An issuer reviewing tokens with the credential in `tokenFile`; `caFile: false` leaves the CA out. */
  function startIssuer(
    plane: ControlPlane,
    tokenFile: string,
    opts: { caFile?: false } = {},
  ): Promise<RunningTokenServer> {
    assert.ok(keys);
    return startTokenServer({
      keys,
      config: {
        kubernetes: {
          apiServer: plane.server,
          tokenFile,
          ...(opts.caFile === false ? {} : { caFile: plane.caFile }),
          namespaces: ['team-a', 'team-b'],
          cacheSeconds,
        },
      },
    });
  }

  before(async () => {
    dir = await makeTempDir('sa-login');
    keys = await writeSigningKeyPair(dir, 'token');
    const t0 = Date.now();
    cp = await startControlPlane();
    process.stderr.write(`[control-plane] ready in ${String(Date.now() - t0)} ms at ${cp.server}\n`);
    const plane = cp;
    await plane.kubectl(['create', 'namespace', 'team-a']);
    await plane.kubectl(['create', 'namespace', 'team-b']);
    await plane.kubectl(['create', 'namespace', 'berth-system']);

    // The issuer's own credential: a ServiceAccount that may create TokenReviews, and nothing more.
    const issuerToken = await createServiceAccountToken(plane, issuerAccount);
    await plane.kubectl([
      'create',
      'clusterrolebinding',
      'berth-token-issuer-auth-delegator',
      '--clusterrole=system:auth-delegator',
      `--serviceaccount=${issuerAccount.namespace}:${issuerAccount.name}`,
    ]);
    const asIssuer = `--as=system:serviceaccount:${issuerAccount.namespace}:${issuerAccount.name}`;
    // RBAC reads bindings through an informer: wait until the authorizer has the new one.
    await waitFor(
      'the auth-delegator binding to take effect',
      async () => {
        const r = await plane.kubectl(['auth', 'can-i', 'create', 'tokenreviews', asIssuer], {
          check: false,
        });
        return r.stdout.trim() === 'yes' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const issuerTokenFile = path.join(dir, 'issuer-sa-token');
    await writeFile(issuerTokenFile, `${issuerToken}\n`, { mode: 0o600 });

    builderToken = await createServiceAccountToken(plane, builder);
    issuer = await startIssuer(plane, issuerTokenFile);
    registry = await startBerth({ config: tokenAuthConfig(issuer.realm, keys.certificate) });

    const layout = path.join(dir, 'layout');
    await writeOciLayout(layout, { app: image });
  }, step);

  afterEach(report.check);
  after(async () => {
    report.print({
      'control plane': cp,
      'token issuer': issuer,
      registry,
      'issuer without auth-delegator': undelegated,
      'issuer without the cluster CA': untrusting,
    });
    await Promise.allSettled([
      registry?.stop(),
      issuer?.stop(),
      undelegated?.stop(),
      untrusting?.stop(),
      removeClientState(),
    ]);
    await cp?.stop();
    if (dir !== '') await removeTempDir(dir);
  });

  function env(): { cp: ControlPlane; issuer: RunningTokenServer; registry: RunningRegistry } {
    assert.ok(cp && issuer && registry, 'start-up failed');
    return { cp, issuer, registry };
  }

  it("the issuer's own ServiceAccount may create TokenReviews and nothing else", step, async () => {
    const { cp } = env();
    const as = `--as=system:serviceaccount:${issuerAccount.namespace}:${issuerAccount.name}`;
    const can = async (...args: string[]) =>
      (await cp.kubectl(['auth', 'can-i', ...args, as], { check: false })).stdout.trim();
    assert.equal(await can('create', 'tokenreviews.authentication.k8s.io'), 'yes');
    assert.equal(await can('get', 'secrets', '-n', 'team-a'), 'no');
    assert.equal(await can('create', 'serviceaccounts/token', '-n', 'team-a'), 'no');
  });

  it('a team-a ServiceAccount token gets pull and push on team-a/**, nothing else', step, async () => {
    const { issuer } = env();
    const own = await login(issuer, 'serviceaccount', builderToken, ['repository:team-a/app:push,pull']);
    assert.deepEqual(actionsOn(own, 'team-a/app'), ['pull', 'push']);
    assert.equal(own.sub, 'system:serviceaccount:team-a:builder');
    assert.equal(own.body['refresh_token'], undefined);

    const nested = await login(issuer, 'serviceaccount', builderToken, [
      'repository:team-a/tools/ci:pull,push',
    ]);
    assert.deepEqual(actionsOn(nested, 'team-a/tools/ci'), ['pull', 'push']);

    const other = await login(issuer, 'serviceaccount', builderToken, ['repository:team-b/app:push,pull']);
    assert.deepEqual(actionsOn(other, 'team-b/app'), [], 'team-a may not touch team-b');
    // `team-a/**` is a path prefix, not a string prefix.
    const lookalike = await login(issuer, 'serviceaccount', builderToken, [
      'repository:team-ab/app:push,pull',
    ]);
    assert.deepEqual(actionsOn(lookalike, 'team-ab/app'), []);

    const del = await login(issuer, 'serviceaccount', builderToken, ['repository:team-a/app:delete']);
    assert.deepEqual(actionsOn(del, 'team-a/app'), [], 'ServiceAccounts never delete');
    const star = await login(issuer, 'serviceaccount', builderToken, ['repository:team-a/app:*']);
    assert.deepEqual(actionsOn(star, 'team-a/app'), ['pull', 'push'], '* is pull and push, no delete');

    const catalog = await login(issuer, 'serviceaccount', builderToken, ['registry:catalog:*']);
    assert.equal(catalog.status, 200);
    assert.deepEqual(catalog.access, [], 'ServiceAccounts do not list the catalog');
  });

  it('skopeo pushes into team-a/app with the token and pulls it back; team-b is refused', step, async () => {
    const { registry } = env();
    const layout = path.join(dir, 'layout');
    const creds = `serviceaccount:${builderToken}`;
    const ref = `docker://${registry.host}/team-a/app:v1`;

    await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:app`, ref], cmd);

    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ref], cmd);
    assert.equal(raw.stdout, image.manifest.bytes.toString('utf8'), 'the registry serves what was pushed');
    const pulled = path.join(dir, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds, ref, `oci:${pulled}:app`], cmd);
    const index = JSON.parse(await readFile(path.join(pulled, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [image.manifest.digest],
    );
    for (const b of [image.config, ...image.layers]) {
      const bytes = await readFile(path.join(pulled, 'blobs', 'sha256', b.digest.slice('sha256:'.length)));
      assert.ok(bytes.equals(b.bytes), `blob ${b.digest} pulled back unchanged`);
    }

    // Auth is on: without credentials the same pull is refused.
    const anonymous = await skopeo(['inspect', '--raw', '--tls-verify=false', '--no-creds', ref], {
      ...cmd,
      check: false,
    });
    assert.notEqual(anonymous.code, 0, 'an anonymous pull of team-a/app succeeded');

    const denied = await skopeo(
      [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds,
        `oci:${layout}:app`,
        `docker://${registry.host}/team-b/app:v1`,
      ],
      { ...cmd, check: false },
    );
    assert.notEqual(denied.code, 0, `skopeo pushed into team-b:\n${denied.stdout}`);
    assert.match(denied.stderr, /denied|unauthorized/i);
  });

  it(
    'refuses a forged token, another username, and a namespace outside `namespaces` (401)',
    step,
    async () => {
      const { cp, issuer } = env();
      // The genuine token works (so the refusals below are about the change alone).
      assert.equal((await login(issuer, 'serviceaccount', builderToken)).status, 200);

      const forged = await login(issuer, 'serviceaccount', forge(builderToken), [
        'repository:team-a/app:push,pull',
      ]);
      assert.equal(forged.status, 401, why(forged));
      assert.equal(forged.body['token'], undefined);

      for (const username of ['builder', 'system:serviceaccount:team-a:builder', 'ServiceAccount']) {
        const other = await login(issuer, username, builderToken, ['repository:team-a/app:pull']);
        assert.equal(other.status, 401, `username ${username}: ${why(other)}`);
        assert.equal(other.body['token'], undefined);
      }

      // A valid ServiceAccount token of a namespace the issuer is not configured for.
      const outsider = await createServiceAccountToken(cp, { namespace: 'berth-system', name: 'outsider' });
      const outside = await login(issuer, 'serviceaccount', outsider, ['repository:berth-system/app:pull']);
      assert.equal(outside.status, 401, why(outside));
      // ...while team-b, which is configured, logs in for its own prefix.
      const teamB = await createServiceAccountToken(cp, { namespace: 'team-b', name: 'deployer' });
      const inside = await login(issuer, 'serviceaccount', teamB, ['repository:team-b/app:pull']);
      assert.deepEqual(actionsOn(inside, 'team-b/app'), ['pull']);
    },
  );

  it('refuses tokens minted for another audience (the API server reviews with its own)', step, async () => {
    const { cp, issuer } = env();
    const foreign = await createServiceAccountToken(cp, { ...builder, audiences: ['some-other-service'] });
    const res = await login(issuer, 'serviceaccount', foreign, ['repository:team-a/app:pull']);
    assert.equal(res.status, 401, why(res));
  });

  it(
    'an issuer whose ServiceAccount lacks system:auth-delegator answers 503, not a login',
    step,
    async () => {
      const { cp } = env();
      const token = await createServiceAccountToken(cp, { namespace: 'berth-system', name: 'no-delegator' });
      const file = path.join(dir, 'no-delegator-token');
      await writeFile(file, `${token}\n`, { mode: 0o600 });
      undelegated = await startIssuer(cp, file);
      const res = await login(undelegated, 'serviceaccount', builderToken, ['repository:team-a/app:pull']);
      assert.equal(res.status, 503, why(res));
      assert.equal(res.body['token'], undefined);
      assert.deepEqual(
        (res.body['errors'] as { code?: string }[] | undefined)?.map((e) => e.code),
        ['UNAVAILABLE'],
      );
      // The issuer's log reaches its stdout pipe a moment after the response.
      const server = undelegated;
      const issuerLog = await waitFor('the issuer to log the refused TokenReview', async () => {
        const out = server.output();
        return /TokenReview answered HTTP 403/.test(out) ? out : undefined;
      });
      assert.ok(!issuerLog.includes(builderToken), 'the reviewed token was logged');
    },
  );

  it('an issuer that does not trust the cluster CA answers 503 (the TLS is verified)', step, async () => {
    const { cp } = env();
    untrusting = await startIssuer(cp, path.join(dir, 'issuer-sa-token'), { caFile: false });
    const res = await login(untrusting, 'serviceaccount', builderToken, ['repository:team-a/app:pull']);
    assert.equal(res.status, 503, why(res));
    assert.equal(res.body['token'], undefined);
    const server = untrusting;
    await waitFor('the issuer to log the failed TLS handshake', async () =>
      /TokenReview request failed: .*certificate/i.test(server.output()) ? true : undefined,
    );
  });

  // The refusal takes up to cacheSeconds plus the API server's own cache of successful token
  // authentications (10 s in kube-apiserver), so this polls rather than waiting out a fixed time.
  it('deleting the ServiceAccount ends its logins after the cache period', step, async () => {
    const { cp, issuer } = env();
    assert.equal((await login(issuer, 'serviceaccount', builderToken)).status, 200);
    await cp.kubectl(['-n', builder.namespace, 'delete', 'serviceaccount', builder.name]);
    const deletedAt = Date.now();
    const status = await waitFor(
      'the deleted ServiceAccount to be refused',
      async () => {
        const res = await login(issuer, 'serviceaccount', builderToken, ['repository:team-a/app:pull']);
        return res.status === 200 ? undefined : res.status;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(status, 401);
    process.stderr.write(`[sa-login] refused ${String(Date.now() - deletedAt)} ms after the delete\n`);

    // A new ServiceAccount of the same name is another object (another UID): the old token stays dead,
    // a token of the new one works.
    const fresh = await createServiceAccountToken(cp, builder);
    const old = await login(issuer, 'serviceaccount', builderToken);
    assert.equal(old.status, 401, why(old));
    const renewed = await login(issuer, 'serviceaccount', fresh, ['repository:team-a/app:pull']);
    assert.deepEqual(actionsOn(renewed, 'team-a/app'), ['pull']);
  });
});
