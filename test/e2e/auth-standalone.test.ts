// What `npm start` runs, as a real process: `node registry/cli.ts standalone --data DIR --addr 127.0.0.1:PORT`.
// The first start prints an admin token once; the real Docker engine logs in with it (the realm is on the
// registry's own address), pushes and pulls; a restart keeps keys and tokens, so the stored login still works.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { printedAdminToken, startStandalone, type RunningStandalone } from '../harness/auth.ts';
import { buildScratchImage } from '../harness/clients.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { registryNodeFlags, repoRoot } from '../harness/tools.ts';

const step = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };

function pushedDigest(pushOutput: string): string {
  const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushOutput);
  assert.ok(m?.[1], `no digest in docker push output:\n${pushOutput}`);
  return m[1];
}

describe('npm start (berth-registry standalone) with the Docker engine', () => {
  let dockerd: Dockerd | undefined;
  let registry: RunningStandalone | undefined;
  let dataDir = '';
  const id = randomBytes(4).toString('hex');
  let digest = '';

  before(async () => {
    dataDir = await makeTempDir('standalone-data');
    [dockerd, registry] = await Promise.all([startDockerd(), startStandalone(dataDir)]);
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ standalone: registry, dockerd });
    await Promise.allSettled([dockerd?.stop(), registry?.stop()]);
    if (dataDir !== '') await removeTempDir(dataDir);
  });

  function env(): { dockerd: Dockerd; registry: RunningStandalone } {
    assert.ok(dockerd && registry, 'start-up failed');
    return { dockerd, registry };
  }

  it('is what `npm start` runs', async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts['start'], `node ${registryNodeFlags.join(' ')} registry/cli.ts standalone`);
  });

  it('prints the admin token once, with the docker login hint', async () => {
    const { registry } = env();
    const output = registry.output();
    const admin = printedAdminToken(output);
    assert.equal(admin.username, 'admin');
    assert.equal(output.split(admin.password).length - 1, 1, 'the secret was printed more than once');
    assert.ok(output.includes(`docker login ${registry.host} -u admin --password-stdin`), output);
    const anonymous = await fetch(`${registry.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.equal(
      anonymous.headers.get('www-authenticate'),
      `Bearer realm="${registry.url}/auth/token",service="berth-registry"`,
    );
  });

  it('docker login with the printed token, then push and pull', step, async () => {
    const { dockerd, registry } = env();
    const { password } = printedAdminToken(registry.output());
    const login = await dockerd.docker(['login', registry.host, '-u', 'admin', '--password-stdin'], {
      ...cmd,
      input: `${password}\n`,
    });
    assert.match(login.stdout, /Login Succeeded/);
    const image = await buildScratchImage(dockerd.docker, `${registry.host}/team/app-${id}:v1`, 2);
    digest = pushedDigest((await dockerd.docker(['push', image.tag], cmd)).stdout);
    await dockerd.docker(['rmi', image.tag], cmd);
    const pulled = await dockerd.docker(['pull', image.tag], cmd);
    assert.ok(pulled.stdout.includes(`Digest: ${digest}`), pulled.stdout);
  });

  it('anonymous pull is off', step, async () => {
    const { dockerd, registry } = env();
    await dockerd.docker(['logout', registry.host], cmd);
    const tag = `${registry.host}/team/app-${id}:v1`;
    await dockerd.docker(['rmi', tag], cmd);
    const pull = await dockerd.docker(['pull', tag], { ...cmd, check: false });
    assert.notEqual(pull.code, 0, `anonymous pull succeeded:\n${pull.stdout}`);
    assert.match(`${pull.stdout}\n${pull.stderr}`, /denied|unauthorized|authentication required/i);
  });

  it('a restart keeps the keys and the token: it says so, and the same login works', step, async () => {
    const { dockerd } = env();
    const { password } = printedAdminToken(env().registry.output());
    await env().registry.stop();
    registry = undefined;
    registry = await startStandalone(dataDir);
    const output = registry.output();
    assert.ok(!output.includes(password), 'the secret was printed again');
    assert.match(output, /admin access token "admin" exists/);
    assert.match(output, /access-token create --name NAME/);

    await dockerd.docker(['login', registry.host, '-u', 'admin', '--password-stdin'], {
      ...cmd,
      input: `${password}\n`,
    });
    const tag = `${registry.host}/team/app-${id}:v1`;
    // The data is under the same dir (a new port: the image is pulled under a new registry host name).
    const pulled = await dockerd.docker(['pull', tag], cmd);
    assert.ok(pulled.stdout.includes(`Digest: ${digest}`), pulled.stdout);
  });
});

describe('npm start on a wildcard address, reached as localhost (docker login localhost:PORT)', () => {
  let dockerd: Dockerd | undefined;
  let registry: RunningStandalone | undefined;
  let dataDir = '';

  before(async () => {
    dataDir = await makeTempDir('standalone-localhost');
    [dockerd, registry] = await Promise.all([startDockerd(), startStandalone(dataDir, { wildcard: true })]);
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ standalone: registry, dockerd });
    await Promise.allSettled([dockerd?.stop(), registry?.stop()]);
    if (dataDir !== '') await removeTempDir(dataDir);
  });

  it('names a localhost realm, and docker login, push and pull work through it', step, async () => {
    assert.ok(dockerd && registry, 'start-up failed');
    const output = registry.output();
    assert.ok(output.includes(`docker login ${registry.host} -u admin --password-stdin`), output);
    const challenge = await fetch(`http://127.0.0.1:${registry.host.split(':')[1]}/v2/`);
    assert.equal(
      challenge.headers.get('www-authenticate'),
      `Bearer realm="http://${registry.host}/auth/token",service="berth-registry"`,
    );
    const { password } = printedAdminToken(output);
    await dockerd.docker(['login', registry.host, '-u', 'admin', '--password-stdin'], {
      ...cmd,
      input: `${password}\n`,
    });
    const image = await buildScratchImage(dockerd.docker, `${registry.host}/team/local:v1`, 1);
    const digest = pushedDigest((await dockerd.docker(['push', image.tag], cmd)).stdout);
    await dockerd.docker(['rmi', image.tag], cmd);
    const pulled = await dockerd.docker(['pull', image.tag], cmd);
    assert.ok(pulled.stdout.includes(`Digest: ${digest}`), pulled.stdout);
  });
});
