// Blob GET/HEAD/DELETE (end-2, end-10). HEAD only stats storage; GET streams, honouring a single Range.
import { RegistryError } from '../errors.ts';
import { parseDigest } from '../digest.ts';
import { repository, type Handler, type Services } from './context.ts';
import { parseRangeHeader } from './ranges.ts';
import type { Route } from './routes.ts';
import { publishEvent } from './events.ts';

type BlobRoute = Extract<Route, { kind: 'blob' }>;

function blobUnknown(digest: string): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest } });
}

/** Whether the repository links the blob, and its size: from the descriptor cache when it may be used. */
async function describeBlob(
  services: Services,
  name: string,
  digest: string,
): Promise<{ linked: boolean; size: number | null }> {
  // Never while read-only: that is when GC may delete behind this process (see blob-descriptors.ts).
  const cache = services.settings().readOnly ? undefined : services.descriptors;
  const [linked, size] = await Promise.all([
    cache?.linked(name, digest) === true ? true : repository(services, name).hasLayer(digest),
    cache?.size(digest) ?? services.blobs.size(digest),
  ]);
  if (cache && linked && size !== null) {
    cache.rememberLink(name, digest);
    cache.rememberSize(digest, size);
  }
  return { linked, size };
}

export const getBlob: Handler<BlobRoute> = async (ctx) => {
  const { request, reply, route, services } = ctx;
  const { digest, name } = route;
  parseDigest(digest);
  const { linked, size } = await describeBlob(services, name, digest);
  if (!linked || size === null) throw blobUnknown(digest);
  // Pull events for downloads only: HEAD is how clients check what a push can skip.
  const pulled = () => {
    if (request.method === 'GET') publishEvent(ctx, 'pull', { kind: 'blob', repository: name, digest, size });
  };

  if (!services.settings().redirectDisabled) {
    const url = await services.blobs.redirectURL(digest, request.method === 'HEAD' ? 'HEAD' : 'GET');
    if (url) {
      reply.code(307).header('Location', url).header('Docker-Content-Digest', digest);
      pulled();
      return reply.send();
    }
  }

  reply
    .header('Docker-Content-Digest', digest)
    .header('Content-Type', 'application/octet-stream')
    .header('Accept-Ranges', 'bytes')
    .header('ETag', `"${digest}"`)
    .header('Cache-Control', 'max-age=31536000');

  const range = parseRangeHeader(request.headers.range, size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  }
  if (request.method === 'HEAD') {
    reply.header('Content-Length', String(size));
    return reply.send();
  }
  const status = range ? 206 : 200;
  if (range) reply.header('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  reply.header('Content-Length', String(range ? range.end - range.start + 1 : size));
  if (size === 0) {
    pulled();
    return reply.code(status).send('');
  }
  // The blob store writes straight into the socket (from reused buffers where the driver can): take over the
  // response from fastify, keeping the headers set so far. onResponse hooks (metrics) still run.
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(status, reply.getHeaders() as Record<string, string>);
  try {
    await services.blobs.copyTo(digest, raw, range ? { offset: range.start, end: range.end } : undefined);
    raw.end();
    pulled();
  } catch (err) {
    request.log.info({ err, digest }, 'blob download ended early');
    raw.destroy();
  }
};

export const deleteBlob: Handler<BlobRoute> = async (ctx) => {
  const { reply, route, services } = ctx;
  const { digest, name } = route;
  parseDigest(digest);
  if (!services.settings().deleteEnabled) throw deleteDisabled();
  const repo = repository(services, name);
  if (!(await repo.hasLayer(digest))) throw blobUnknown(digest);
  await repo.unlinkLayer(digest);
  services.descriptors?.forgetLink(name, digest);
  reply.code(202).header('Docker-Content-Digest', digest).header('Content-Length', '0');
  // Published before the response, so a client's next request cannot overtake it in the queue.
  publishEvent(ctx, 'delete', { kind: 'deleted', repository: name, digest });
  return reply.send();
};

export function deleteDisabled(): RegistryError {
  return new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry (storage.delete.enabled)');
}
