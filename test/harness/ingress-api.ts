// The registry's HTTP API through a cluster's Ingress: HTTPS to the Ingress address with the registry host as
// SNI and Host header, trusting only the given CA, and bearer tokens fetched from the realm of the registry's
// challenge with an access token (Basic auth), as a client outside the cluster does it.
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { buildImage, type BuiltImage } from './oci-image.ts';

export interface ApiResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface IngressTarget {
  /** The Ingress controller's address. */
  address: string;
  /** The registry host name (SNI and Host). */
  host: string;
  /** PEM the Ingress certificate is checked against. */
  ca: string;
}

export function ingressCall(
  target: IngressTarget,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.address,
        servername: target.host,
        port: 443,
        method,
        path: pathAndQuery,
        headers: {
          host: target.host,
          ...(body !== undefined ? { 'content-length': String(body.length) } : {}),
          ...headers,
        },
        ca: target.ca,
        timeout: 60_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const flat = Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]);
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(flat) as ApiResponse['headers'],
            body: Buffer.concat(parts).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathAndQuery}: timed out`)));
    req.end(body);
  });
}

/** A bearer token for `scope` (e.g. repository:team/app:pull,push,delete), from the challenge's realm. */
export async function bearerFor(
  target: IngressTarget,
  user: string,
  secret: string,
  scope: string,
): Promise<Record<string, string>> {
  const challenge = await ingressCall(target, 'GET', '/v2/');
  const params = new Map(
    [...(challenge.headers['www-authenticate'] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  const realm = new URL(params.get('realm') ?? '');
  realm.searchParams.set('service', params.get('service') ?? '');
  realm.searchParams.set('scope', scope);
  const basic = Buffer.from(`${user}:${secret}`).toString('base64');
  const res = await ingressCall(target, 'GET', `${realm.pathname}${realm.search}`, {
    authorization: `Basic ${basic}`,
  });
  if (res.status !== 200) throw new Error(`token for ${scope}: HTTP ${String(res.status)} ${res.body}`);
  return { authorization: `Bearer ${(JSON.parse(res.body) as { token: string }).token}` };
}

export const sha256Digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes a blob in one request (POST with the digest); throws unless 201. */
export async function pushBlob(
  target: IngressTarget,
  repo: string,
  blob: Buffer,
  auth: Record<string, string>,
): Promise<string> {
  const digest = sha256Digest(blob);
  const res = await ingressCall(
    target,
    'POST',
    `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    { ...auth, 'content-type': 'application/octet-stream' },
    blob,
  );
  if (res.status !== 201) throw new Error(`push blob to ${repo}: HTTP ${String(res.status)} ${res.body}`);
  return digest;
}

/**
 * Pushes a small OCI image (one random layer; a config with `created` when given) as `repo:tag` through the
 * API, or `image` when given (e.g. one image under two tags); returns the manifest digest.
 */
export async function pushApiImage(
  target: IngressTarget,
  repo: string,
  tag: string,
  auth: Record<string, string>,
  opts: { created?: string; image?: BuiltImage } = {},
): Promise<string> {
  const image =
    opts.image ??
    buildImage({ layerBytes: 64, ...(opts.created !== undefined ? { created: opts.created } : {}) });
  for (const b of [...image.layers, image.config]) await pushBlob(target, repo, b.bytes, auth);
  const res = await ingressCall(
    target,
    'PUT',
    `/v2/${repo}/manifests/${tag}`,
    { ...auth, 'content-type': image.manifest.mediaType },
    image.manifest.bytes,
  );
  if (res.status !== 201) throw new Error(`push ${repo}:${tag}: HTTP ${String(res.status)} ${res.body}`);
  return image.manifest.digest;
}
