// Assertions that a registry serves known content unchanged, through a real client (skopeo) and the API.
import assert from 'node:assert/strict';
import { skopeo } from './clients.ts';
import { topBlob, type BuiltImage, type BuiltIndex } from './oci-image.ts';
import { headBlob } from './registry-api.ts';
import type { RunningRegistry } from './registry.ts';

/** The manifest bytes exactly as the registry returns them. */
export async function rawManifest(ref: string): Promise<Buffer> {
  return (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdoutBytes;
}

/** `registry` serves `content` as `repo:tag` byte for byte, child manifests by digest, and every blob. */
export async function assertServes(
  registry: RunningRegistry,
  repo: string,
  tag: string,
  content: BuiltImage | BuiltIndex,
): Promise<void> {
  const top = topBlob(content);
  const byTag = await rawManifest(`${registry.host}/${repo}:${tag}`);
  assert.equal(byTag.toString('utf8'), top.bytes.toString('utf8'), `${registry.kind} changed ${repo}:${tag}`);
  const byDigest = await rawManifest(`${registry.host}/${repo}@${top.digest}`);
  assert.equal(
    byDigest.toString('utf8'),
    top.bytes.toString('utf8'),
    `${registry.kind}: ${repo}@${top.digest}`,
  );
  const images = content.kind === 'image' ? [content] : content.images;
  for (const img of images) {
    if (content.kind === 'index') {
      const child = await rawManifest(`${registry.host}/${repo}@${img.manifest.digest}`);
      assert.equal(
        child.toString('utf8'),
        img.manifest.bytes.toString('utf8'),
        `${registry.kind}: child manifest`,
      );
    }
    for (const b of [img.config, ...img.layers]) {
      const head = await headBlob(registry.url, repo, b.digest);
      assert.equal(head.status, 200, `${registry.kind}: HEAD ${repo} blob ${b.digest}`);
      assert.equal(
        head.headers.get('content-length'),
        String(b.size),
        `${registry.kind}: size of ${b.digest}`,
      );
    }
  }
}

/**
 * Pulls every platform and blob with skopeo (which checks every digest) into `dir` (skopeo's dir:
 * transport keeps Docker and OCI manifests as they are).
 */
export async function assertPulls(
  registry: RunningRegistry,
  repo: string,
  tag: string,
  dir: string,
): Promise<void> {
  await skopeo([
    'copy',
    '--all',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${registry.host}/${repo}:${tag}`,
    `dir:${dir}`,
  ]);
}
