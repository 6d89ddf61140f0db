// The Docker token flow over fetch, for the auth API tests: read the registry's Bearer challenge, ask the realm
// for a token (with Basic credentials or anonymously), and push or pull with it.
import assert from 'node:assert/strict';
import { sha256 } from './client.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="..",service="..",scope="..",error=".."` (quoted strings with backslash escapes). */
export function parseChallenge(header: string | null): Challenge {
  assert.ok(header, 'no WWW-Authenticate header');
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)="((?:[^"\\]|\\.)*)"/g;
  for (const m of header.slice(space + 1).matchAll(re)) {
    if (m[1] !== undefined && m[2] !== undefined) params[m[1]] = m[2].replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

export function basic({ username, password }: Credentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** GET <realm>?service=..&scope=.. as `docker pull` does; returns the token (fails on a non-200). */
export async function fetchToken(
  realm: string,
  service: string,
  scopes: readonly string[],
  credentials?: Credentials,
): Promise<string> {
  const url = new URL(realm);
  url.searchParams.set('service', service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const res = await fetch(url, { headers: credentials ? { Authorization: basic(credentials) } : {} });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 200, `token request failed: ${res.status} ${JSON.stringify(body)}`);
  assert.ok(typeof body.token === 'string');
  return body.token;
}

/** Asks the registry what a request needs (its challenge), then gets a token for exactly that. */
export async function tokenForChallenge(res: Response, credentials?: Credentials): Promise<string> {
  assert.equal(res.status, 401);
  await res.body?.cancel();
  const { scheme, params } = parseChallenge(res.headers.get('www-authenticate'));
  assert.equal(scheme, 'Bearer');
  assert.ok(params['realm'] && params['service']);
  return fetchToken(
    params['realm'],
    params['service'],
    params['scope'] ? params['scope'].split(' ') : [],
    credentials,
  );
}

export async function pushBlobAs(
  url: string,
  name: string,
  content: Uint8Array,
  token: string,
): Promise<Response> {
  const digest = sha256(content);
  return fetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { ...bearer(token), 'Content-Type': 'application/octet-stream' },
    body: content,
  });
}

/** Pushes a one-layer OCI image tagged `tag` with `token`; returns the manifest digest and layer digest. */
export async function pushImageAs(
  url: string,
  name: string,
  tag: string,
  token: string,
  layer: Uint8Array,
): Promise<{ digest: string; layer: string; config: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
  for (const blob of [config, layer]) {
    const res = await pushBlobAs(url, name, blob, token);
    assert.equal(res.status, 201, `blob push: ${res.status} ${await res.text()}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length },
      ],
    }),
  );
  const res = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...bearer(token), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(res.status, 201, `manifest push: ${res.status} ${await res.text()}`);
  return { digest: sha256(manifest), layer: sha256(layer), config: sha256(config) };
}

export interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

export async function errorBody(res: Response): Promise<ErrorBody> {
  return (await res.json()) as ErrorBody;
}
