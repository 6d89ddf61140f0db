// A tiny OCI client over fetch for API tests: push blobs and manifests the way the spec describes.
import { createHash } from 'node:crypto';

export function sha256(content: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

export async function pushBlob(url: string, name: string, content: Uint8Array): Promise<string> {
  const digest = sha256(content);
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(content.length) },
    body: content,
  });
  if (res.status !== 201) throw new Error(`blob push failed: ${res.status} ${await res.text()}`);
  return digest;
}

export interface PushedImage {
  manifest: Buffer;
  digest: string;
  config: string;
  layers: string[];
}

/** Pushes an OCI image with the given layers and a config, tagged with `tag` (or by digest when tag is null). */
export async function pushImage(
  url: string,
  name: string,
  tag: string | null,
  layers: Uint8Array[],
  extra: Record<string, unknown> = {},
): Promise<PushedImage> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const configDigest = await pushBlob(url, name, config);
  const layerDigests: string[] = [];
  for (const layer of layers) layerDigests.push(await pushBlob(url, name, layer));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((layer, i) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: layerDigests[i],
        size: layer.length,
      })),
      ...extra,
    }),
  );
  const digest = sha256(manifest);
  const res = await putManifest(url, name, tag ?? digest, manifest);
  if (res.status !== 201) throw new Error(`manifest push failed: ${res.status} ${await res.text()}`);
  return { manifest, digest, config: configDigest, layers: layerDigests };
}

export function putManifest(
  url: string,
  name: string,
  reference: string,
  manifest: Uint8Array,
  mediaType = 'application/vnd.oci.image.manifest.v1+json',
): Promise<Response> {
  return fetch(`${url}/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': mediaType },
    body: manifest,
  });
}

export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: { code: string }[] };
  return body.errors?.[0]?.code;
}
