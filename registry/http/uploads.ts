// Blob uploads (end-4a/4b, end-5, end-6, end-11, end-13, end-14): monolithic POST ?digest=, POST then PUT,
// streamed and chunked PATCH with Content-Range, status, cancel, and cross-repository mount.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.ts';
import { parseDigest } from '../digest.ts';
import { checkName } from '../names.ts';
import { rangeInvalid, type UploadStatus } from '../store/uploads.ts';
import { queryParam, repository, type Handler } from './context.ts';
import { parseContentRange } from './ranges.ts';
import type { Route } from './routes.ts';
import { publishEvent } from './events.ts';

type UploadsRoute = Extract<Route, { kind: 'uploads' }>;
type UploadRoute = Extract<Route, { kind: 'upload' }>;

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function sendUploadState(
  reply: FastifyReply,
  name: string,
  upload: Pick<UploadStatus, 'id' | 'size'>,
  code: number,
) {
  reply
    .code(code)
    .header('Location', uploadLocation(name, upload.id))
    .header('Range', upload.size > 0 ? `0-${upload.size - 1}` : '0-0')
    .header('Docker-Upload-UUID', upload.id)
    .header('Content-Length', '0');
  return reply.send();
}

function sendBlobCreated(reply: FastifyReply, name: string, digest: string) {
  reply
    .code(201)
    .header('Location', `/v2/${name}/blobs/${digest}`)
    .header('Docker-Content-Digest', digest)
    .header('Content-Length', '0');
  return reply.send();
}

function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RegistryError('SIZE_INVALID', 'invalid Content-Length', { detail: { contentLength: header } });
  }
  return length;
}

/** True when the request carries a body (a length > 0 or chunked transfer encoding). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

export const startUpload: Handler<UploadsRoute> = async (ctx) => {
  const { request, reply, route, services, auth } = ctx;
  const { name } = route;
  const repo = repository(services, name);

  const mount = queryParam(request, 'mount');
  const from = queryParam(request, 'from');
  if (mount !== undefined && from !== undefined) {
    parseDigest(mount);
    checkName(from);
    // Without pull access to the source, a mount silently becomes a normal upload (as Distribution does).
    if (auth.allows({ type: 'repository', name: from, actions: ['pull'] })) {
      const source = repository(services, from);
      const size = (await source.hasLayer(mount)) ? await services.blobs.size(mount) : null;
      if (size !== null) {
        await repo.linkLayer(mount);
        publishEvent(ctx, 'mount', {
          kind: 'blob',
          repository: name,
          digest: mount,
          size,
          fromRepository: from,
        });
        return sendBlobCreated(reply, name, mount);
      }
    }
  }

  const digest = queryParam(request, 'digest');
  const upload = await services.uploads.create(name);
  if (digest === undefined) return sendUploadState(reply, name, upload, 202);

  // Monolithic upload: the whole blob in this request.
  const algorithm = parseDigest(digest);
  let size: number;
  try {
    size = await services.uploads.complete(
      name,
      upload.id,
      digest,
      algorithm,
      request.raw,
      contentLength(request),
    );
  } catch (err) {
    await services.uploads.cancel(name, upload.id).catch(() => undefined);
    throw err;
  }
  await repo.linkLayer(digest);
  publishEvent(ctx, 'push', { kind: 'blob', repository: name, digest, size });
  return sendBlobCreated(reply, name, digest);
};

export const uploadStatus: Handler<UploadRoute> = async ({ reply, route, services }) => {
  const upload = await services.uploads.status(route.name, route.id);
  return sendUploadState(reply, route.name, upload, 204);
};

export const patchUpload: Handler<UploadRoute> = async ({ request, reply, route, services }) => {
  const { name, id } = route;
  const range = parseContentRange(request.headers['content-range']);
  const length = contentLength(request);
  if (range === 'invalid') {
    const { size } = await services.uploads.status(name, id);
    throw rangeInvalid(size, 'invalid Content-Range');
  }
  if (range && length !== undefined && range.end - range.start + 1 !== length) {
    const { size } = await services.uploads.status(name, id);
    throw rangeInvalid(size, 'Content-Range does not match Content-Length');
  }
  const size = await services.uploads.append(name, id, request.raw, {
    ...(range ? { start: range.start } : {}),
    ...(length !== undefined ? { length } : {}),
  });
  return sendUploadState(reply, name, { id, size }, 202);
};

export const finishUpload: Handler<UploadRoute> = async (ctx) => {
  const { request, reply, route, services } = ctx;
  const { name, id } = route;
  const digest = queryParam(request, 'digest');
  if (digest === undefined) {
    throw new RegistryError('DIGEST_INVALID', 'digest query parameter missing', { detail: { digest: null } });
  }
  const algorithm = parseDigest(digest);
  const body = hasBody(request) ? request.raw : null;
  if (body) {
    const range = parseContentRange(request.headers['content-range']);
    const { size } = await services.uploads.status(name, id);
    if (range === 'invalid' || (range && range.start !== size)) {
      throw rangeInvalid(size, 'final chunk does not start where the upload ends');
    }
  }
  const size = await services.uploads.complete(
    name,
    id,
    digest,
    algorithm,
    body,
    body ? contentLength(request) : undefined,
  );
  await repository(services, name).linkLayer(digest);
  publishEvent(ctx, 'push', { kind: 'blob', repository: name, digest, size });
  return sendBlobCreated(reply, name, digest);
};

export const cancelUpload: Handler<UploadRoute> = async ({ reply, route, services }) => {
  await services.uploads.cancel(route.name, route.id);
  reply.code(204).header('Content-Length', '0');
  return reply.send();
};
