// fast-check generators for hostile registry API requests: repository names, references, digests, upload ids,
// Range/Content-Range and odd headers, manifest bodies; path traversal in every spelling a router or a storage
// layer could get wrong (`..`, `%2e%2e`, `%2F`, NUL, backslashes, unicode look-alikes and normalisation forms,
// overlong UTF-8, overlong names).
import { createHash } from 'node:crypto';
import fc from 'fast-check';

/** A file name no registry path should ever reach; the test looks for it outside the storage root. */
export const escapeMarker = 'berth-fuzz-escape';

/** What the fuzzed requests may use besides random values: content the test pushed first. */
export interface FuzzTargets {
  names: readonly string[];
  tags: readonly string[];
  digests: readonly string[];
  uploadIds: readonly string[];
}

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

const escapes = Array.from({ length: 12 }, (_, depth) => `${'../'.repeat(depth + 1)}${escapeMarker}`);

const traversal = [
  '..',
  '.',
  '../x',
  'a/../b',
  'a/./b',
  './a',
  'a/..',
  'foo/../bar',
  '%2e%2e',
  '%2E%2E/x',
  'a/%2e%2e/b',
  'a/%2e%2e%2f%2e%2e/b',
  'a%2F..%2F..%2Fetc',
  '..%2f..%2f' + escapeMarker,
  '%00',
  'a%00b',
  'a\u0000b',
  'a\\..\\b',
  'a%5c..%5cb',
  '..\\' + escapeMarker,
  '\uff0e\uff0e',
  '\uff0e\uff0e/' + escapeMarker,
  '\u2024\u2024/x',
  'e\u0301',
  '\u00e9',
  '\ufb01le',
  '\u212a',
  '%c0%ae%c0%ae/x',
  '%e0%80%ae%e0%80%ae',
  '%ef%bc%8e%ef%bc%8e',
  '%',
  '%zz',
  '/',
  '//',
  '/a',
  'a/',
  'a//b',
  '_catalog',
  'A',
  'a b',
  '~',
  '*',
  'a/*',
  'a'.repeat(255),
  'a'.repeat(256),
  `${'a/'.repeat(127)}b`,
  'a'.repeat(5000),
  ...escapes,
];

/** Strings from a small alphabet that is mostly separators, escapes and look-alikes. */
const nasty = fc.string({
  unit: fc.constantFrom(
    ...'ab0-_./\\%2eEfF:@?#*',
    '\u0000',
    '\u00e9',
    '\uff0e',
    '\u0301',
    '\u202e',
    '\ud83d\udc33',
  ),
  maxLength: 40,
});

const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/);
const validName = fc.array(component, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));

export function nameArb(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...targets.names) },
    { weight: 3, arbitrary: fc.constantFrom(...traversal) },
    { weight: 2, arbitrary: nasty },
    { weight: 2, arbitrary: validName },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 260 }).map((n) => 'n'.repeat(n)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  );
}

export function digestArb(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...targets.digests) },
    { weight: 2, arbitrary: hex(64).map((h) => `sha256:${h}`) },
    { weight: 1, arbitrary: hex(128).map((h) => `sha512:${h}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'sha256:',
        'sha256:xyz',
        `sha256:${'a'.repeat(63)}`,
        `sha256:${'a'.repeat(65)}`,
        `SHA256:${'a'.repeat(64)}`,
        `sha256:${'A'.repeat(64)}`,
        `md5:${'a'.repeat(32)}`,
        `sha256:../../${escapeMarker}`,
        `sha256:${'a'.repeat(62)}/..`,
        `sha256+b64:${'a'.repeat(43)}=`,
        ':',
        'sha256',
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...traversal) },
    { weight: 1, arbitrary: nasty },
  );
}

export function referenceArb(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...targets.tags) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,130}$/) },
    { weight: 3, arbitrary: digestArb(targets) },
    { weight: 1, arbitrary: nasty },
  );
}

export function uploadIdArb(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...targets.uploadIds) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...traversal) },
    { weight: 1, arbitrary: nasty },
  );
}

/**
 * How a path segment goes on the wire: as written (`%` kept, so pre-escaped traversal arrives as such; only what
 * node's client refuses is escaped), as encodeURIComponent would, or with every byte escaped (`.`→`%2E`).
 */
export type Encoding = 'raw' | 'component' | 'all';

export function encodeSegment(s: string, encoding: Encoding): string {
  if (encoding === 'component') return encodeURIComponent(s);
  if (encoding === 'all') {
    return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
  return [...s].map((c) => (/^[\x21-\x7e]$/.test(c) ? c : encodeURIComponent(c))).join('');
}

const encodingArb = fc.constantFrom<Encoding>('raw', 'raw', 'component', 'all');

const methodArb = fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS');

/** A request line: mostly a method the route answers (to get past routing), sometimes any. */
export interface RequestLine {
  method: string;
  path: string;
}

export function requestLineArb(targets: FuzzTargets): fc.Arbitrary<RequestLine> {
  const name = fc.tuple(nameArb(targets), encodingArb).map(([n, e]) => encodeSegment(n, e));
  const seg = (a: fc.Arbitrary<string>) => fc.tuple(a, encodingArb).map(([s, e]) => encodeSegment(s, e));
  const digest = seg(digestArb(targets));
  const route = (paths: fc.Arbitrary<string>, ...methods: string[]) =>
    fc.tuple(paths, fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...methods) }, methodArb));
  const line = fc.oneof(
    route(
      fc.constantFrom('/v2/', '/v2', '/v2/_catalog', '/v2//', '/v2/..', '/v2/%2e%2e/_catalog'),
      'GET',
      'HEAD',
    ),
    route(
      name.map((n) => `/v2/${n}/tags/list`),
      'GET',
    ),
    route(
      fc.tuple(name, seg(referenceArb(targets))).map(([n, r]) => `/v2/${n}/manifests/${r}`),
      'GET',
      'HEAD',
      'PUT',
      'DELETE',
    ),
    route(
      fc.tuple(name, digest).map(([n, d]) => `/v2/${n}/blobs/${d}`),
      'GET',
      'HEAD',
      'DELETE',
    ),
    route(
      name.map((n) => `/v2/${n}/blobs/uploads/`),
      'POST',
    ),
    route(
      fc.tuple(name, seg(uploadIdArb(targets))).map(([n, u]) => `/v2/${n}/blobs/uploads/${u}`),
      'GET',
      'PATCH',
      'PUT',
      'DELETE',
    ),
    route(
      fc.tuple(name, digest).map(([n, d]) => `/v2/${n}/referrers/${d}`),
      'GET',
    ),
    route(
      seg(nasty).map((s) => `/v2/${s}`),
      'GET',
    ),
  );
  const query = fc.oneof(
    fc.constant(''),
    digest.map((d) => `?digest=${d}`),
    fc.tuple(digest, name).map(([d, n]) => `?mount=${d}&from=${n}`),
    fc
      .tuple(fc.oneof(fc.integer({ min: -5, max: 100_000 }).map(String), seg(nasty)), seg(nasty))
      .map(([n, last]) => `?n=${n}&last=${last}`),
    seg(nasty).map((t) => `?artifactType=${t}`),
    seg(nasty).map((q) => `?${q}`),
  );
  return fc.tuple(line, query).map(([[path, method], q]) => ({ method, path: path + q }));
}

/** Header values node's client accepts (no CR, LF or NUL). */
const headerValue = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\t', '\u00e9', '\u00ff'),
  ),
  maxLength: 60,
});

const big = fc.constantFrom('99999999999999999999', String(Number.MAX_SAFE_INTEGER), '18446744073709551616');

export const rangeArb = fc.oneof(
  fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-5', 'bytes=0-0,5-9', 'bytes=-0', 'bytes=-'),
  fc.constantFrom('items=0-1', 'bytes 0-1', 'bytes=0-1 ', 'bytes=a-b', '=', 'bytes=--1'),
  fc.tuple(fc.nat(100_000), fc.nat(100_000)).map(([a, b]) => `bytes=${a}-${b}`),
  big.map((b) => `bytes=${b}-`),
  big.map((b) => `bytes=0-${b}`),
  headerValue,
);

const contentRangeArb = fc.oneof(
  fc.constantFrom('0-', '-1', '5-2', '0-0', 'bytes 0-10/20', 'bytes 0-10/*', '0-10/', '1-1'),
  fc.tuple(fc.nat(10_000), fc.nat(10_000)).map(([a, b]) => `${a}-${b}`),
  big.map((b) => `0-${b}`),
  big.map((b) => `${b}-${b}`),
  headerValue,
);

export const manifestMediaTypes = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.oci.artifact.manifest.v1+json',
];

const mediaTypeArb = fc.oneof(
  fc.constantFrom(...manifestMediaTypes),
  fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', '', '*/*'),
  headerValue,
);

export const headersArb = fc.record(
  {
    Range: rangeArb,
    'Content-Range': contentRangeArb,
    'Content-Type': mediaTypeArb,
    Accept: fc.oneof(mediaTypeArb, fc.constant(manifestMediaTypes.join(', '))),
    'If-None-Match': headerValue,
    'X-Odd': headerValue,
    'X-Forwarded-Proto': headerValue,
    Host: fc.oneof(headerValue, fc.constant('')),
  },
  { requiredKeys: [] },
);

function descriptorArb(targets: FuzzTargets): fc.Arbitrary<unknown> {
  return fc.record(
    {
      mediaType: mediaTypeArb,
      digest: digestArb(targets),
      size: fc.oneof(fc.nat(10_000), fc.constantFrom(-1, 1e20, 0.5, '5', null)),
      urls: fc.array(headerValue, { maxLength: 2 }),
      annotations: fc.dictionary(headerValue, headerValue, { maxKeys: 3 }),
      artifactType: mediaTypeArb,
      platform: fc.record({ architecture: headerValue, os: headerValue }, { requiredKeys: [] }),
    },
    { requiredKeys: ['digest'] },
  );
}

/** Manifest-shaped JSON: the right fields with wrong types, wrong or missing mediaType, unknown digests. */
function manifestArb(targets: FuzzTargets): fc.Arbitrary<unknown> {
  const descriptor = descriptorArb(targets);
  return fc.record(
    {
      schemaVersion: fc.oneof(fc.constant(2), fc.constantFrom(1, 3, '2', -1, null)),
      mediaType: mediaTypeArb,
      artifactType: mediaTypeArb,
      config: fc.oneof(descriptor, fc.jsonValue({ maxDepth: 2 })),
      layers: fc.oneof(fc.array(descriptor, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
      manifests: fc.array(descriptor, { maxLength: 4 }),
      subject: descriptor,
      blobs: fc.array(descriptor, { maxLength: 2 }),
      annotations: fc.oneof(fc.dictionary(headerValue, headerValue, { maxKeys: 3 }), fc.jsonValue()),
      signatures: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 1 }),
    },
    { requiredKeys: [] },
  );
}

/** Deeply nested JSON (arrays or objects), alone or where a manifest expects a descriptor list. */
const deepArb = fc
  .tuple(fc.integer({ min: 100, max: 100_000 }), fc.constantFrom('array', 'object', 'layers'))
  .map(([depth, shape]) => {
    if (shape === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    if (shape === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    return (
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":' +
      `${'['.repeat(depth)}${']'.repeat(depth)}}`
    );
  });

/** Many descriptors: big but under the 4 MiB manifest limit. */
function wideArb(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: 500, max: 5000 }), fc.constantFrom(...targets.digests))
    .map(([n, digest]) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: Array.from({ length: n }, () => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: 1,
        })),
      }),
    );
}

export function bodyArb(targets: FuzzTargets): fc.Arbitrary<Uint8Array | undefined> {
  const text = (a: fc.Arbitrary<string>) => a.map((s) => Buffer.from(s, 'utf8'));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
    { weight: 2, arbitrary: text(fc.json()) },
    { weight: 4, arbitrary: text(manifestArb(targets).map((m) => JSON.stringify(m))) },
    { weight: 1, arbitrary: text(deepArb) },
    { weight: 1, arbitrary: text(wideArb(targets)) },
  );
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

const sha256 = (content: Uint8Array) => `sha256:${createHash('sha256').update(content).digest('hex')}`;

/** A monolithic blob push whose digest mostly matches its body: gets past validation into the store. */
function blobPushArb(targets: FuzzTargets): fc.Arbitrary<Omit<FuzzRequest, 'headers'>> {
  return fc
    .record({
      name: fc.oneof(fc.constantFrom(...targets.names), validName),
      content: fc.uint8Array({ maxLength: 4096 }),
      digest: fc.option(digestArb(targets), { freq: 4 }),
    })
    .map(({ name, content, digest }) => ({
      method: 'POST',
      path: `/v2/${name}/blobs/uploads/?digest=${encodeSegment(digest ?? sha256(content), 'raw')}`,
      body: content,
    }));
}

/** A manifest push by tag or by its own digest, of manifest-shaped JSON naming pushed blobs. */
function manifestPushArb(targets: FuzzTargets): fc.Arbitrary<Omit<FuzzRequest, 'headers'>> {
  return fc
    .record({
      name: fc.constantFrom(...targets.names),
      manifest: manifestArb(targets),
      tag: fc.option(fc.constantFrom(...targets.tags), { freq: 2 }),
    })
    .map(({ name, manifest, tag }) => {
      const body = Buffer.from(JSON.stringify(manifest));
      return { method: 'PUT', path: `/v2/${name}/manifests/${tag ?? sha256(body)}`, body };
    });
}

export function requestArb(
  targets: FuzzTargets,
  authorization: fc.Arbitrary<string | undefined> = fc.constant(undefined),
): fc.Arbitrary<FuzzRequest> {
  const anyRequest = fc
    .record({ line: requestLineArb(targets), body: bodyArb(targets) })
    .map(({ line, body }) => ({
      ...line,
      body,
    }));
  return fc
    .record({
      request: fc.oneof(
        { weight: 6, arbitrary: anyRequest },
        { weight: 1, arbitrary: blobPushArb(targets) },
        { weight: 1, arbitrary: manifestPushArb(targets) },
      ),
      headers: headersArb,
      authorization,
    })
    .map(({ authorization: auth, headers, request }) => ({
      ...request,
      headers: auth === undefined ? headers : { ...headers, Authorization: auth },
    }));
}

/** One line per request for a failure report (bodies shortened). */
export function describeRequest(req: FuzzRequest): string {
  const body = req.body ? Buffer.from(req.body).toString('utf8') : '';
  const shown = body.length > 200 ? `${body.slice(0, 200)}…(${body.length} bytes)` : body;
  const path = req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length})` : req.path;
  return `${req.method} ${path} ${JSON.stringify(req.headers)} ${JSON.stringify(shown)}`;
}
