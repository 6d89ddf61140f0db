// The registry's HTTP API through a cluster's Ingress: HTTPS to the Ingress address with the registry host as
// SNI and Host header, trusting only the given CA, and bearer tokens fetched from the realm of the registry's
// challenge with an access token (Basic auth), as a client outside the cluster does it.
import { request } from 'node:https';

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
