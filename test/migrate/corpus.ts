// Writes registry content straight into a storage driver in Distribution's layout (what a push leaves), so
// migration tests get corpora in milliseconds, and snapshots a driver's registry tree for comparisons.
import { createHash } from 'node:crypto';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { isPathNotFound } from '../../registry/storage/driver.ts';
import * as paths from '../../registry/storage/paths.ts';
import { allBlobs, topBlob, type Blob, type BuiltImage, type BuiltIndex } from '../harness/oci-image.ts';

/** Writes blob data, streaming it through a writer when it is large (as an upload commit leaves it). */
export async function writeBlob(driver: StorageDriver, b: Blob): Promise<void> {
  if (b.bytes.length <= 64 * 1024) {
    await driver.putContent(paths.blobDataPath(b.digest), b.bytes);
    return;
  }
  const writer = await driver.writer(paths.blobDataPath(b.digest), false);
  for (let i = 0; i < b.bytes.length; i += 1 << 20) await writer.write(b.bytes.subarray(i, i + (1 << 20)));
  await writer.commit();
}

function link(digest: string): Buffer {
  return Buffer.from(digest);
}

/** Everything a push of `content` as repo:tag leaves in storage. */
export async function writeContent(
  driver: StorageDriver,
  repo: string,
  tag: string,
  content: BuiltImage | BuiltIndex,
): Promise<void> {
  const images = content.kind === 'image' ? [content] : content.images;
  for (const b of allBlobs(content)) await writeBlob(driver, b);
  for (const img of images) {
    for (const b of [img.config, ...img.layers]) {
      await driver.putContent(paths.layerLinkPath(repo, b.digest), link(b.digest));
    }
    await driver.putContent(
      paths.manifestRevisionLinkPath(repo, img.manifest.digest),
      link(img.manifest.digest),
    );
  }
  const top = topBlob(content);
  await driver.putContent(paths.manifestRevisionLinkPath(repo, top.digest), link(top.digest));
  await setTag(driver, repo, tag, top.digest);
}

/** Points a tag at a manifest (history link first, current link last, as the registry does). */
export async function setTag(
  driver: StorageDriver,
  repo: string,
  tag: string,
  digest: string,
): Promise<void> {
  await driver.putContent(paths.tagIndexLinkPath(repo, tag, digest), link(digest));
  await driver.putContent(paths.tagCurrentLinkPath(repo, tag), link(digest));
}

/** A referrer link (Berth's index of manifests whose subject is `subject`). */
export async function writeReferrer(
  driver: StorageDriver,
  repo: string,
  subject: string,
  referrer: string,
): Promise<void> {
  await driver.putContent(paths.referrerLinkPath(repo, subject, referrer), link(referrer));
}

/** An upload in progress, which a migration must leave out. */
export async function writeUpload(driver: StorageDriver, repo: string, id: string): Promise<void> {
  await driver.putContent(paths.uploadDataPath(repo, id), Buffer.alloc(1000, 7));
  await driver.putContent(paths.uploadStartedAtPath(repo, id), Buffer.from(new Date().toISOString()));
}

/** Every file below `root` (default: the whole driver) as path → sha256 of its content. */
export async function snapshot(driver: StorageDriver, root = '/'): Promise<Map<string, string>> {
  const files: string[] = [];
  try {
    await driver.walk(root, (info) => {
      if (!info.isDir) files.push(info.path);
    });
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
  const out = new Map<string, string>();
  for (const file of files.sort()) {
    out.set(
      file,
      createHash('sha256')
        .update(await driver.getContent(file))
        .digest('hex'),
    );
  }
  return out;
}

/** A snapshot without what a migration leaves out (uploads, heartbeats, anything outside the registry tree). */
export function migratable(snap: Map<string, string>): Map<string, string> {
  return new Map(
    [...snap].filter(([path]) => path.startsWith(`${paths.rootPrefix}/`) && !path.includes('/_uploads/')),
  );
}
