// The real Docker engine (Debian docker.io) pushes to and pulls from the registry under test.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { buildScratchImage, type ScratchImage } from '../harness/clients.ts';
import { headManifest } from '../harness/registry-api.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { startTarget, targetKind } from '../harness/target.ts';

const stepTimeout = { timeout: 300_000 };
// Well below the step timeout, so a hung docker command fails with its output instead of a bare timeout.
const cmd = { timeoutMs: 120_000 };

/** The final status docker printed for each layer of a push, e.g. "Pushed", "Layer already exists". */
function layerStatuses(pushOutput: string): Map<string, string> {
  const statuses = new Map<string, string>();
  for (const line of pushOutput.split('\n')) {
    const m = /^([0-9a-f]{12}): (.+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) statuses.set(m[1], m[2]);
  }
  return statuses;
}

function pushedDigest(pushOutput: string): string {
  const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushOutput);
  assert.ok(m?.[1], `no digest in docker push output:\n${pushOutput}`);
  return m[1];
}

function pulledDigest(pullOutput: string): string {
  const m = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(pullOutput);
  assert.ok(m?.[1], `no digest in docker pull output:\n${pullOutput}`);
  return m[1];
}

describe(`docker engine against ${targetKind()}`, () => {
  let dockerd: Dockerd | undefined;
  let registry: RunningRegistry | undefined;
  const suffix = randomBytes(4).toString('hex');
  let repo = '';
  let image: ScratchImage | undefined;
  let digest = '';

  before(async () => {
    [dockerd, registry] = await Promise.all([startDockerd(), startTarget()]);
    repo = `${registry.host}/e2e/docker-${suffix}`;
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ registry, dockerd });
    await Promise.allSettled([dockerd?.stop(), registry?.stop()]);
  });

  function env(): { dockerd: Dockerd; registry: RunningRegistry; image: ScratchImage } {
    assert.ok(dockerd && registry && image, 'an earlier step failed');
    return { dockerd, registry, image };
  }

  it('pushes a FROM scratch image with several layers', stepTimeout, async () => {
    assert.ok(dockerd && registry);
    image = await buildScratchImage(dockerd.docker, `${repo}:v1`, 4, { layerBytes: 1024 * 1024 });
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const statuses = layerStatuses(stdout);
    assert.equal(statuses.size, image.layers, `expected ${image.layers} layers in:\n${stdout}`);
    for (const [layer, status] of statuses) assert.equal(status, 'Pushed', `layer ${layer}:\n${stdout}`);
    digest = pushedDigest(stdout);
    const head = await headManifest(registry.url, `e2e/docker-${suffix}`, 'v1');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), digest);
  });

  it('pulls it by tag after removing it locally', stepTimeout, async () => {
    const { dockerd, image } = env();
    await dockerd.docker(['rmi', image.tag], cmd);
    const gone = await dockerd.docker(['image', 'inspect', image.tag], { ...cmd, check: false });
    assert.notEqual(gone.code, 0, 'the image is still present locally after docker rmi');
    const { stdout } = await dockerd.docker(['pull', image.tag], cmd);
    assert.equal(pulledDigest(stdout), digest);
    const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{json .}}', image.tag], cmd);
    const local = JSON.parse(inspect.stdout) as { Id: string; RepoDigests: string[] };
    assert.equal(local.Id, image.imageId, 'the pulled image differs from the pushed one');
    assert.ok(local.RepoDigests.includes(`${repo}@${digest}`), inspect.stdout);
  });

  it('pulls it by digest', stepTimeout, async () => {
    const { dockerd, image } = env();
    // By id with --force: removes the tag and the digest reference together.
    await dockerd.docker(['rmi', '--force', image.imageId], cmd);
    const { stdout } = await dockerd.docker(['pull', `${repo}@${digest}`], cmd);
    assert.equal(pulledDigest(stdout), digest);
    const inspect = await dockerd.docker(
      ['image', 'inspect', '--format', '{{.Id}}', `${repo}@${digest}`],
      cmd,
    );
    assert.equal(inspect.stdout.trim(), image.imageId);
    await dockerd.docker(['tag', `${repo}@${digest}`, image.tag], cmd);
  });

  it('re-pushes the unchanged image without uploading any layer', stepTimeout, async () => {
    const { dockerd, image } = env();
    const { stdout } = await dockerd.docker(['push', image.tag], cmd);
    const statuses = layerStatuses(stdout);
    assert.equal(statuses.size, image.layers, stdout);
    for (const [layer, status] of statuses) {
      assert.equal(status, 'Layer already exists', `layer ${layer} was uploaded again:\n${stdout}`);
    }
    assert.equal(pushedDigest(stdout), digest);
  });

  it('pushes to a second repository by mounting the layers across repositories', stepTimeout, async () => {
    const { dockerd, image } = env();
    const other = `${repo}-copy:v1`;
    await dockerd.docker(['tag', image.tag, other], cmd);
    const { stdout } = await dockerd.docker(['push', other], cmd);
    const statuses = layerStatuses(stdout);
    assert.equal(statuses.size, image.layers, stdout);
    for (const [layer, status] of statuses) {
      assert.equal(status, `Mounted from e2e/docker-${suffix}`, `layer ${layer}:\n${stdout}`);
    }
    assert.equal(pushedDigest(stdout), digest);
    await dockerd.docker(['rmi', other], cmd);
    const pulled = await dockerd.docker(['pull', other], cmd);
    assert.equal(pulledDigest(pulled.stdout), digest);
  });
});
