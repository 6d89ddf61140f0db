// Parses `/v2/...` paths into typed routes. Repository names contain slashes, so routing by suffix is done
// here rather than by the HTTP router; names and references are validated by the handlers.

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'referrers'; name: string; digest: string };

export type RouteKind = Route['kind'];

/** A capture group that the pattern guarantees to exist. */
function g(m: RegExpExecArray, i: number): string {
  return m[i] ?? '';
}

const patterns: [RegExp, (m: RegExpExecArray) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: g(m, 1) })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: g(m, 1), reference: g(m, 2) })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: g(m, 1) })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: g(m, 1), id: g(m, 2) })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: g(m, 1), digest: g(m, 2) })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: g(m, 1), digest: g(m, 2) })],
];

/** A request URL without its query string. */
export function requestPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Matches a request path (without query string). Returns null for paths that are no registry route. */
export function matchRoute(path: string): Route | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  for (const [pattern, build] of patterns) {
    const m = pattern.exec(decoded);
    if (m) return build(m);
  }
  return null;
}

/** Methods each route kind answers; anything else is 405 UNSUPPORTED. */
export const allowedMethods: Record<RouteKind, readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  referrers: ['GET'],
};
