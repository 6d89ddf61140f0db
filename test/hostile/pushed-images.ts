// What the load and kill-point tests share: content-addressed blobs, a fetch that keeps the body, the record
// of a pushed image, and the read-back that proves every pushed image intact.
import { createHash } from 'node:crypto';

export const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

export interface Blob {
  digest: string;
  bytes: Buffer;
}

export const blobOf = (bytes: Buffer): Blob => ({
  digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
  bytes,
});

export interface PushedImage {
  repo: string;
  tag: string;
  manifest: Blob;
  blobs: Blob[];
}

export async function call(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
  timeoutMs = 120_000,
): Promise<{ status: number; headers: Headers; data: Buffer }> {
  // fetch's global pool opens a connection per request in flight (no per-origin cap).
  const res = await fetch(url, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, headers: res.headers, data: Buffer.from(await res.arrayBuffer()) };
}

/**
 * Reads every image back: its tag must give its manifest and each of its blobs (each repository@digest read
 * once) must hash to its digest. Returns what is wrong and how many blobs were read.
 */
export async function unreadable(
  base: string,
  images: readonly PushedImage[],
  timeoutMs?: number,
): Promise<{ wrong: string[]; blobsRead: number }> {
  const wrong: string[] = [];
  const read = new Set<string>();
  for (const image of images) {
    const m = await call(
      'GET',
      `${base}/v2/${image.repo}/manifests/${image.tag}`,
      { accept: ociManifest },
      undefined,
      timeoutMs,
    );
    if (m.status !== 200 || blobOf(m.data).digest !== image.manifest.digest) {
      wrong.push(`${image.repo}:${image.tag}: manifest ${String(m.status)}`);
    }
    for (const b of image.blobs) {
      const key = `${image.repo}@${b.digest}`;
      if (read.has(key)) continue;
      read.add(key);
      const got = await call('GET', `${base}/v2/${image.repo}/blobs/${b.digest}`, {}, undefined, timeoutMs);
      if (got.status !== 200 || blobOf(got.data).digest !== b.digest) {
        wrong.push(`${key}: ${String(got.status)}, ${String(got.data.length)} bytes`);
      }
    }
  }
  return { wrong, blobsRead: read.size };
}
