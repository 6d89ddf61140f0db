// skopeo copies images between the registry under test and CNCF Distribution 2.8 (Debian's
// docker-registry), both ways, with every digest preserved: OCI images, OCI indexes with two platforms,
// Docker schema2 images and manifest lists.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { removeClientState, skopeo } from '../harness/clients.ts';
import { startDistribution } from '../harness/distribution.ts';
import { buildImage, buildTwoPlatformIndex, writeOciLayout } from '../harness/oci-image.ts';
import { pushContent } from '../harness/registry-api.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { startTarget, targetKind } from '../harness/target.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { assertServes } from '../harness/verify.ts';

const step = { timeout: 180_000 };
const insecure = ['--src-tls-verify=false', '--dest-tls-verify=false'];

async function copy(src: string, dest: string): Promise<void> {
  await skopeo(['copy', '--all', '--preserve-digests', ...insecure, src, dest]);
}

describe(`skopeo between ${targetKind()} and distribution`, () => {
  let target: RunningRegistry | undefined;
  let dist: RunningRegistry | undefined;
  let layoutDir = '';
  let layout = '';
  const id = randomBytes(4).toString('hex');
  const content = {
    ociImageA: buildImage(),
    ociImageB: buildImage(),
    indexA: buildTwoPlatformIndex(),
    indexB: buildTwoPlatformIndex(),
    dockerImage: buildImage({ format: 'docker' }),
    dockerList: buildTwoPlatformIndex({ format: 'docker' }),
  };

  before(async () => {
    [target, dist] = await Promise.all([startTarget(), startDistribution()]);
    layoutDir = await makeTempDir('layout');
    layout = path.join(layoutDir, 'oci');
    await writeOciLayout(layout, {
      ociImageA: content.ociImageA,
      ociImageB: content.ociImageB,
      indexA: content.indexA,
      indexB: content.indexB,
    });
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ target, distribution: dist });
    await Promise.allSettled([target?.stop(), dist?.stop(), removeClientState()]);
    if (layoutDir !== '') await removeTempDir(layoutDir);
  });

  function registries(): { target: RunningRegistry; dist: RunningRegistry } {
    assert.ok(target && dist, 'start-up failed');
    return { target, dist };
  }

  it(`copies an OCI image ${targetKind()} → distribution`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-oci-${id}`;
    await copy(`oci:${layout}:ociImageA`, `docker://${target.host}/${repo}:v1`);
    await copy(`docker://${target.host}/${repo}:v1`, `docker://${dist.host}/${repo}:v1`);
    await assertServes(target, repo, 'v1', content.ociImageA);
    await assertServes(dist, repo, 'v1', content.ociImageA);
  });

  it(`copies an OCI image distribution → ${targetKind()}`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-oci-back-${id}`;
    await copy(`oci:${layout}:ociImageB`, `docker://${dist.host}/${repo}:v1`);
    await copy(`docker://${dist.host}/${repo}:v1`, `docker://${target.host}/${repo}:v1`);
    await assertServes(dist, repo, 'v1', content.ociImageB);
    await assertServes(target, repo, 'v1', content.ociImageB);
  });

  it(`copies a two-platform OCI index distribution → ${targetKind()} (--all)`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-index-${id}`;
    await copy(`oci:${layout}:indexA`, `docker://${dist.host}/${repo}:multi`);
    await copy(`docker://${dist.host}/${repo}:multi`, `docker://${target.host}/${repo}:multi`);
    await assertServes(dist, repo, 'multi', content.indexA);
    await assertServes(target, repo, 'multi', content.indexA);
    // A client asking for one platform gets that platform's image.
    const arm = await skopeo([
      'inspect',
      '--tls-verify=false',
      '--override-os=linux',
      '--override-arch=arm64',
      '--override-variant=v8',
      `docker://${target.host}/${repo}:multi`,
    ]);
    assert.equal((JSON.parse(arm.stdout) as { Architecture: string }).Architecture, 'arm64');
  });

  it(`copies a two-platform OCI index ${targetKind()} → distribution (--all)`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-index-back-${id}`;
    await copy(`oci:${layout}:indexB`, `docker://${target.host}/${repo}:multi`);
    await copy(`docker://${target.host}/${repo}:multi`, `docker://${dist.host}/${repo}:multi`);
    await assertServes(target, repo, 'multi', content.indexB);
    await assertServes(dist, repo, 'multi', content.indexB);
  });

  it(`copies a Docker schema2 image and manifest list distribution → ${targetKind()}`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-docker-${id}`;
    await pushContent(dist.url, repo, 'image', content.dockerImage);
    await pushContent(dist.url, repo, 'list', content.dockerList);
    await copy(`docker://${dist.host}/${repo}:image`, `docker://${target.host}/${repo}:image`);
    await copy(`docker://${dist.host}/${repo}:list`, `docker://${target.host}/${repo}:list`);
    await assertServes(target, repo, 'image', content.dockerImage);
    await assertServes(target, repo, 'list', content.dockerList);
  });

  it(`copies a Docker schema2 image and manifest list ${targetKind()} → distribution`, step, async () => {
    const { target, dist } = registries();
    const repo = `e2e/skopeo-docker-back-${id}`;
    await pushContent(target.url, repo, 'image', content.dockerImage);
    await pushContent(target.url, repo, 'list', content.dockerList);
    await copy(`docker://${target.host}/${repo}:image`, `docker://${dist.host}/${repo}:image`);
    await copy(`docker://${target.host}/${repo}:list`, `docker://${dist.host}/${repo}:list`);
    await assertServes(dist, repo, 'image', content.dockerImage);
    await assertServes(dist, repo, 'list', content.dockerList);
  });
});
