// Just enough of the OCI distribution HTTP API to put exact bytes into a registry (content that no
// client would produce on its own, e.g. Docker manifest lists) and to read them back unchanged.
import { mediaTypes, type Blob, type BuiltImage, type BuiltIndex } from './oci-image.ts';

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function raw(method: string, url: string, init: RequestInit = {}): Promise<RawResponse> {
  const res = await fetch(url, { ...init, method, signal: AbortSignal.timeout(120_000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

function describe(method: string, url: string, r: RawResponse): string {
  return `${method} ${url} → ${r.status} ${r.body.toString('utf8').slice(0, 2_000)}`;
}

/** Starts an upload session; returns the absolute upload URL. */
export async function startUpload(base: string, repo: string): Promise<string> {
  const url = `${base}/v2/${repo}/blobs/uploads/`;
  const r = await raw('POST', url);
  const location = r.headers.get('location');
  if (r.status !== 202 || location === null) throw new Error(describe('POST', url, r));
  return new URL(location, base).toString();
}

/** Adds `?digest=` (or `&digest=`) to an upload URL. */
export function withDigest(uploadUrl: string, digest: string): string {
  const u = new URL(uploadUrl);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** POST + PUT with the whole blob (the "monolithic" upload). */
export async function pushBlob(base: string, repo: string, b: Blob): Promise<void> {
  const head = await raw('HEAD', `${base}/v2/${repo}/blobs/${b.digest}`);
  if (head.status === 200) return;
  const upload = await startUpload(base, repo);
  const url = withDigest(upload, b.digest);
  const r = await raw('PUT', url, {
    body: b.bytes,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
  });
  if (r.status !== 201) throw new Error(describe('PUT', url, r));
}

export async function putManifest(base: string, repo: string, ref: string, m: Blob): Promise<RawResponse> {
  const url = `${base}/v2/${repo}/manifests/${ref}`;
  const r = await raw('PUT', url, { body: m.bytes, headers: { 'content-type': m.mediaType } });
  if (r.status !== 201) throw new Error(describe('PUT', url, r));
  return r;
}

/** Pushes every blob and manifest of an image or index, children first, then tags the top one `tag`. */
export async function pushContent(
  base: string,
  repo: string,
  tag: string,
  content: BuiltImage | BuiltIndex,
): Promise<void> {
  const images = content.kind === 'image' ? [content] : content.images;
  for (const img of images) {
    for (const b of [img.config, ...img.layers]) await pushBlob(base, repo, b);
    if (content.kind === 'index') await putManifest(base, repo, img.manifest.digest, img.manifest);
  }
  const top = content.kind === 'image' ? content.manifest : content.index;
  await putManifest(base, repo, tag, top);
}

const acceptAll = [
  mediaTypes.oci.index,
  mediaTypes.oci.manifest,
  mediaTypes.docker.index,
  mediaTypes.docker.manifest,
].join(', ');

export async function getManifest(base: string, repo: string, ref: string): Promise<RawResponse> {
  return raw('GET', `${base}/v2/${repo}/manifests/${ref}`, { headers: { accept: acceptAll } });
}

export async function headManifest(base: string, repo: string, ref: string): Promise<RawResponse> {
  return raw('HEAD', `${base}/v2/${repo}/manifests/${ref}`, { headers: { accept: acceptAll } });
}

export async function headBlob(base: string, repo: string, digest: string): Promise<RawResponse> {
  return raw('HEAD', `${base}/v2/${repo}/blobs/${digest}`);
}

export async function getBlob(base: string, repo: string, digest: string): Promise<RawResponse> {
  return raw('GET', `${base}/v2/${repo}/blobs/${digest}`);
}

export async function listTags(base: string, repo: string): Promise<string[]> {
  const r = await raw('GET', `${base}/v2/${repo}/tags/list`);
  if (r.status !== 200) throw new Error(describe('GET', `${base}/v2/${repo}/tags/list`, r));
  const body = JSON.parse(r.body.toString('utf8')) as { tags?: string[] | null };
  return [...(body.tags ?? [])].sort();
}

export async function catalog(base: string): Promise<string[]> {
  const r = await raw('GET', `${base}/v2/_catalog?n=1000`);
  if (r.status !== 200) throw new Error(describe('GET', `${base}/v2/_catalog`, r));
  const body = JSON.parse(r.body.toString('utf8')) as { repositories?: string[] | null };
  return [...(body.repositories ?? [])].sort();
}
