// Builds small OCI images and indexes in memory and writes them as OCI image layouts, so skopeo can
// push exactly known content (manifests, configs, layers with known digests) without any base image.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export type Format = 'oci' | 'docker';

export const mediaTypes = {
  oci: {
    index: 'application/vnd.oci.image.index.v1+json',
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
} as const;

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface BuiltImage {
  kind: 'image';
  format: Format;
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  platform: Platform;
}

export interface BuiltIndex {
  kind: 'index';
  format: Format;
  index: Blob;
  images: BuiltImage[];
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

function descriptor(b: Blob, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra };
}

/** A ustar archive holding regular files (enough for an image layer); `mode` defaults to 0644. */
export function tarFiles(files: readonly { name: string; content: Buffer; mode?: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.name, 0, 100, 'utf8');
    h.write(`${(f.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(`${f.content.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    h.write(`${'0'.repeat(11)}\0`, 136, 'ascii');
    h.write('        ', 148, 'ascii'); // checksum is computed over spaces here
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    parts.push(h, f.content, Buffer.alloc((512 - (f.content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface ImageOptions {
  /** OCI media types (default) or Docker schema2 ones. */
  format?: Format;
  platform?: Platform;
  /** Size of the single random file in the single layer. */
  layerBytes?: number;
  /** gzip level of the layer (0 = stored, fast for big layers). */
  gzipLevel?: number;
  annotations?: Record<string, string>;
  /** The config's `created` (RFC 3339); none by default. */
  created?: string;
}

/** A one-layer image with random content. */
export function buildImage(opts: ImageOptions = {}): BuiltImage {
  const format = opts.format ?? 'oci';
  const types = mediaTypes[format];
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const tar = tarFiles([{ name: 'payload.bin', content: randomBytes(opts.layerBytes ?? 4096) }]);
  const layer = blob(types.layer, gzipSync(tar, { level: opts.gzipLevel ?? 1 }));
  const config = blob(
    types.config,
    Buffer.from(
      JSON.stringify({
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
        config: {},
        ...(opts.created !== undefined ? { created: opts.created } : {}),
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      }),
    ),
  );
  const manifest = blob(
    types.manifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: types.manifest,
        config: descriptor(config),
        layers: [descriptor(layer)],
        ...(opts.annotations !== undefined ? { annotations: opts.annotations } : {}),
      }),
    ),
  );
  return { kind: 'image', format, manifest, config, layers: [layer], platform };
}

/** An index (OCI index or Docker manifest list, after the images' format) with each entry's platform. */
export function buildIndex(images: BuiltImage[]): BuiltIndex {
  const format = images[0]?.format ?? 'oci';
  const type = mediaTypes[format].index;
  const index = blob(
    type,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: type,
        manifests: images.map((img) => descriptor(img.manifest, { platform: img.platform })),
      }),
    ),
  );
  return { kind: 'index', format, index, images };
}

/** A linux/amd64 + linux/arm64/v8 index. */
export function buildTwoPlatformIndex(opts: Omit<ImageOptions, 'platform'> = {}): BuiltIndex {
  return buildIndex([
    buildImage({ ...opts, platform: { os: 'linux', architecture: 'amd64' } }),
    buildImage({ ...opts, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }),
  ]);
}

export function topBlob(content: BuiltImage | BuiltIndex): Blob {
  return content.kind === 'image' ? content.manifest : content.index;
}

export function allBlobs(content: BuiltImage | BuiltIndex): Blob[] {
  if (content.kind === 'image') return [content.config, ...content.layers, content.manifest];
  return [...content.images.flatMap(allBlobs), content.index];
}

/**
 * Writes an OCI image layout with one reference per entry of `refs` (`oci:<dir>:<ref>` in skopeo terms).
 */
export async function writeOciLayout(
  dir: string,
  refs: Record<string, BuiltImage | BuiltIndex>,
): Promise<void> {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests: Record<string, unknown>[] = [];
  for (const [ref, content] of Object.entries(refs)) {
    for (const b of allBlobs(content)) {
      await writeFile(path.join(blobsDir, b.digest.slice('sha256:'.length)), b.bytes);
    }
    manifests.push(
      descriptor(topBlob(content), { annotations: { 'org.opencontainers.image.ref.name': ref } }),
    );
  }
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.oci.index, manifests }),
  );
}
