// Token auth with real clients: the Docker engine and skopeo against `berth-registry serve` with auth.token and
// a `berth-registry token-server` process (the production topology, on loopback), with access tokens made by
// `berth-registry access-token create` and `public/**` open for anonymous pulls.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startAuthStack, type AuthStack } from '../harness/auth.ts';
import { buildScratchImage, removeClientState, skopeo } from '../harness/clients.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import type { ExecResult } from '../harness/exec.ts';
import { buildImage, writeOciLayout } from '../harness/oci-image.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const denied = 'denied: requested access to the resource is denied';

function combined(r: ExecResult): string {
  return `${r.stdout}\n${r.stderr}`;
}

function pulledDigest(pullOutput: string): string {
  const m = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(pullOutput);
  assert.ok(m?.[1], `no digest in docker pull output:\n${pullOutput}`);
  return m[1];
}

function pushedDigest(pushOutput: string): string {
  const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushOutput);
  assert.ok(m?.[1], `no digest in docker push output:\n${pushOutput}`);
  return m[1];
}

describe('token auth with the Docker engine and skopeo', () => {
  let dockerd: Dockerd | undefined;
  let stack: AuthStack | undefined;
  const id = randomBytes(4).toString('hex');
  const secrets = { writer: '', reader: '' };
  let layoutDir = '';
  const ociImage = buildImage();

  before(async () => {
    [dockerd, stack] = await Promise.all([startDockerd(), startAuthStack({ public: ['public/**'] })]);
    // writer: pull and push on e2e/** and public/**; reader: pull only.
    secrets.writer = await stack.addToken(
      'writer',
      ['read_registry', 'write_registry'],
      ['e2e/**', 'public/**'],
    );
    secrets.reader = await stack.addToken('reader', ['read_registry'], ['e2e/**', 'public/**']);
    layoutDir = await makeTempDir('layout');
    await writeOciLayout(path.join(layoutDir, 'oci'), { image: ociImage });
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ dockerd, 'registry and token-server': stack });
    await Promise.allSettled([dockerd?.stop(), stack?.stop(), removeClientState()]);
    if (layoutDir !== '') await removeTempDir(layoutDir);
  });

  function env(): { dockerd: Dockerd; stack: AuthStack; host: string } {
    assert.ok(dockerd && stack, 'start-up failed');
    return { dockerd, stack, host: stack.registry.host };
  }

  const login = (who: 'writer' | 'reader', password = secrets[who]) => {
    const { dockerd, host } = env();
    return dockerd.docker(['login', host, '-u', who, '--password-stdin'], {
      ...cmd,
      input: `${password}\n`,
      check: false,
    });
  };

  it('docker login with the password on stdin; a wrong one is refused', step, async () => {
    const wrong = await login('writer', 'bth_not-the-secret');
    assert.notEqual(wrong.code, 0, combined(wrong));
    assert.match(combined(wrong), /unauthorized|incorrect username or password/i);
    const ok = await login('writer');
    assert.equal(ok.code, 0, combined(ok));
    assert.match(ok.stdout, /Login Succeeded/);
  });

  let privateDigest = '';
  let publicDigest = '';

  it('pushes and pulls as the logged-in user', step, async () => {
    const { dockerd, host } = env();
    const repo = `${host}/e2e/auth-${id}`;
    const image = await buildScratchImage(dockerd.docker, `${repo}:v1`, 2);
    privateDigest = pushedDigest((await dockerd.docker(['push', image.tag], cmd)).stdout);
    await dockerd.docker(['rmi', image.tag], cmd);
    const pulled = await dockerd.docker(['pull', image.tag], cmd);
    assert.equal(pulledDigest(pulled.stdout), privateDigest);
    const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', image.tag], cmd);
    assert.equal(inspect.stdout.trim(), image.imageId);

    const pub = await buildScratchImage(dockerd.docker, `${host}/public/app-${id}:v1`, 1);
    publicDigest = pushedDigest((await dockerd.docker(['push', pub.tag], cmd)).stdout);
  });

  it('a read-only token pulls, and its docker push fails with "denied"', step, async () => {
    const { dockerd, host } = env();
    const ok = await login('reader');
    assert.equal(ok.code, 0, combined(ok));
    const repo = `${host}/e2e/auth-${id}`;
    await dockerd.docker(['rmi', `${repo}:v1`], cmd);
    const pulled = await dockerd.docker(['pull', `${repo}:v1`], cmd);
    assert.equal(pulledDigest(pulled.stdout), privateDigest);

    const fresh = await buildScratchImage(dockerd.docker, `${repo}:v2`, 1);
    const push = await dockerd.docker(['push', fresh.tag], { ...cmd, check: false });
    assert.notEqual(push.code, 0, `the read-only push succeeded:\n${combined(push)}`);
    assert.ok(combined(push).includes(denied), `no "denied" message:\n${combined(push)}`);
    // A retag of pulled content (every blob already there) is refused too: the manifest PUT needs push.
    await dockerd.docker(['tag', `${repo}:v1`, `${repo}:v1-copy`], cmd);
    const retag = await dockerd.docker(['push', `${repo}:v1-copy`], { ...cmd, check: false });
    assert.notEqual(retag.code, 0, combined(retag));
    assert.ok(combined(retag).includes(denied), combined(retag));
  });

  it('after docker logout: anonymous pull of a public repository works, push does not', step, async () => {
    const { dockerd, host } = env();
    await dockerd.docker(['logout', host], cmd);
    const pub = `${host}/public/app-${id}:v1`;
    await dockerd.docker(['rmi', pub], cmd);
    const pulled = await dockerd.docker(['pull', pub], cmd);
    assert.equal(pulledDigest(pulled.stdout), publicDigest);

    const anon = `${host}/public/app-${id}:v1-anon`;
    await dockerd.docker(['tag', pub, anon], cmd);
    const push = await dockerd.docker(['push', anon], { ...cmd, check: false });
    assert.notEqual(push.code, 0, `anonymous push succeeded:\n${combined(push)}`);
    assert.ok(combined(push).includes(denied), combined(push));

    // A private repository stays closed to anonymous pulls.
    const priv = `${host}/e2e/auth-${id}:v1`;
    await dockerd.docker(['rmi', '--force', priv], cmd);
    const refused = await dockerd.docker(['pull', priv], { ...cmd, check: false });
    assert.notEqual(refused.code, 0, `anonymous pull of a private repository:\n${combined(refused)}`);
    assert.match(combined(refused), /denied|unauthorized|authentication required/i);
  });

  it('skopeo with --creds: the writer copies in, the reader reads but cannot write', step, async () => {
    const { host } = env();
    const layout = `oci:${path.join(layoutDir, 'oci')}:image`;
    const dest = `docker://${host}/e2e/skopeo-auth-${id}:v1`;
    await skopeo(
      ['copy', '--dest-tls-verify=false', '--dest-creds', `writer:${secrets.writer}`, layout, dest],
      cmd,
    );
    const inspect = await skopeo(
      ['inspect', '--raw', '--tls-verify=false', '--creds', `reader:${secrets.reader}`, dest],
      cmd,
    );
    assert.equal(inspect.stdout, ociImage.manifest.bytes.toString('utf8'));

    const refused = await skopeo(
      [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `reader:${secrets.reader}`,
        layout,
        `docker://${host}/e2e/skopeo-auth-${id}:v2`,
      ],
      { ...cmd, check: false },
    );
    assert.notEqual(refused.code, 0, `a read-only token pushed:\n${combined(refused)}`);
    assert.match(combined(refused), /denied|unauthorized/i);

    const wrong = await skopeo(
      ['inspect', '--raw', '--tls-verify=false', '--creds', 'reader:bth_wrong', dest],
      { ...cmd, check: false },
    );
    assert.notEqual(wrong.code, 0, combined(wrong));
  });

  it('skopeo without credentials: pulls public repositories only, pushes nowhere', step, async () => {
    const { host } = env();
    const layout = `oci:${path.join(layoutDir, 'oci')}:image`;
    await skopeo(
      [
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `writer:${secrets.writer}`,
        layout,
        `docker://${host}/public/skopeo-${id}:v1`,
      ],
      cmd,
    );
    const pub = await skopeo(
      ['inspect', '--raw', '--tls-verify=false', `docker://${host}/public/skopeo-${id}:v1`],
      cmd,
    );
    assert.equal(pub.stdout, ociImage.manifest.bytes.toString('utf8'));

    const priv = await skopeo(
      ['inspect', '--raw', '--tls-verify=false', `docker://${host}/e2e/skopeo-auth-${id}:v1`],
      { ...cmd, check: false },
    );
    assert.notEqual(priv.code, 0, `anonymous read of a private repository:\n${combined(priv)}`);
    assert.match(combined(priv), /denied|unauthorized|authentication required/i);

    const push = await skopeo(
      ['copy', '--dest-tls-verify=false', layout, `docker://${host}/public/skopeo-${id}:v2`],
      { ...cmd, check: false },
    );
    assert.notEqual(push.code, 0, `anonymous push:\n${combined(push)}`);
    assert.match(combined(push), /denied|unauthorized/i);
  });
});
