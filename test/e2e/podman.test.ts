// podman (the third real client) pulls from the registry under test by tag and by digest, and pushes.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { podman, removeClientState, skopeo } from '../harness/clients.ts';
import { buildImage, buildTwoPlatformIndex, sha256, writeOciLayout } from '../harness/oci-image.ts';
import { getManifest } from '../harness/registry-api.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { startTarget, targetKind } from '../harness/target.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';

const step = { timeout: 180_000 };

interface LocalImage {
  Id: string;
  Digest: string;
  RepoDigests: string[] | null;
}

async function inspectLocal(ref: string): Promise<LocalImage> {
  const { stdout } = await podman(['image', 'inspect', ref]);
  const [img] = JSON.parse(stdout) as LocalImage[];
  assert.ok(img, `podman image inspect ${ref} returned nothing`);
  return img;
}

describe(`podman against ${targetKind()}`, () => {
  let registry: RunningRegistry | undefined;
  let layoutDir = '';
  const repo = `e2e/podman-${randomBytes(4).toString('hex')}`;
  const image = buildImage({ layerBytes: 256 * 1024 });
  const index = buildTwoPlatformIndex({ layerBytes: 64 * 1024 });

  before(async () => {
    registry = await startTarget();
    layoutDir = await makeTempDir('layout');
    const layout = path.join(layoutDir, 'oci');
    await writeOciLayout(layout, { image, index });
    // skopeo puts known content in; podman only reads it back.
    for (const ref of ['image', 'index']) {
      await skopeo([
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:${ref}`,
        `docker://${registry.host}/${repo}:${ref}`,
      ]);
    }
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ registry });
    await Promise.allSettled([registry?.stop(), removeClientState()]);
    if (layoutDir !== '') await removeTempDir(layoutDir);
  });

  function reg(): RunningRegistry {
    assert.ok(registry, 'start-up failed');
    return registry;
  }

  it('pulls an image by tag', step, async () => {
    const ref = `${reg().host}/${repo}:image`;
    await podman(['pull', '--tls-verify=false', ref]);
    const local = await inspectLocal(ref);
    assert.equal(local.Digest, image.manifest.digest);
    assert.equal(`sha256:${local.Id}`, image.config.digest);
  });

  it('pulls an image by digest', step, async () => {
    await podman(['rmi', '--all', '--force']);
    const ref = `${reg().host}/${repo}@${image.manifest.digest}`;
    await podman(['pull', '--tls-verify=false', ref]);
    const local = await inspectLocal(ref);
    assert.equal(`sha256:${local.Id}`, image.config.digest);
  });

  it('pulls its platform from a two-platform index by tag and by digest', step, async () => {
    const byTag = `${reg().host}/${repo}:index`;
    await podman(['pull', '--tls-verify=false', '--platform=linux/arm64/v8', byTag]);
    const arm = index.images.find((i) => i.platform.architecture === 'arm64');
    assert.ok(arm);
    assert.equal(`sha256:${(await inspectLocal(byTag)).Id}`, arm.config.digest);
    await podman(['rmi', '--all', '--force']);
    const byDigest = `${reg().host}/${repo}@${index.index.digest}`;
    await podman(['pull', '--tls-verify=false', '--platform=linux/arm64/v8', byDigest]);
    assert.equal(`sha256:${(await inspectLocal(byDigest)).Id}`, arm.config.digest);
  });

  it('pushes a pulled image to another repository', step, async () => {
    const from = `${reg().host}/${repo}:image`;
    const to = `${reg().host}/${repo}-pushed:v1`;
    await podman(['pull', '--tls-verify=false', from]);
    await podman(['push', '--tls-verify=false', from, `docker://${to}`]);
    const pushed = await getManifest(reg().url, `${repo}-pushed`, 'v1');
    assert.equal(pushed.status, 200);
    const manifest = JSON.parse(pushed.body.toString('utf8')) as { config: { digest: string } };
    assert.equal(manifest.config.digest, image.config.digest);
    assert.equal(pushed.headers.get('docker-content-digest'), sha256(pushed.body));
    await podman(['rmi', '--all', '--force']);
    await podman(['pull', '--tls-verify=false', to]);
    assert.equal(`sha256:${(await inspectLocal(to)).Id}`, image.config.digest);
  });
});
