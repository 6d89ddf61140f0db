// Manifest GET/HEAD/PUT/DELETE (end-3, end-7, end-9). Bytes are served exactly as pushed.
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.ts';
import { isDigest, parseDigest, type DigestAlgorithm } from '../digest.ts';
import { checkTag } from '../names.ts';
import { maxManifestSize, mediaTypes } from '../manifest.ts';
import { manifestUnknown, type StoredManifest } from '../store/manifests.ts';
import type { Repository } from '../store/repository.ts';
import { repository, type Handler, type Services } from './context.ts';
import { deleteDisabled } from './blobs.ts';
import { negotiate, parseAccept } from './negotiate.ts';
import type { Route } from './routes.ts';
import { publishEvent } from './events.ts';

type ManifestRoute = Extract<Route, { kind: 'manifest' }>;

async function resolve(services: Services, repo: Repository, reference: string): Promise<StoredManifest> {
  let digest: string | null;
  if (isDigest(reference)) {
    digest = reference;
  } else if (reference.includes(':')) {
    parseDigest(reference);
    digest = null;
  } else {
    checkTag(reference);
    digest = await repo.resolveTag(reference);
  }
  const manifest = digest === null ? null : await services.manifests.get(repo, digest);
  if (!manifest) throw manifestUnknown(reference);
  return manifest;
}

/** A Docker manifest list's linux/amd64 image, for clients that cannot read lists (Distribution v3). */
async function defaultPlatform(
  services: Services,
  repo: Repository,
  list: StoredManifest,
): Promise<StoredManifest> {
  const body = JSON.parse(list.content.toString('utf8')) as {
    manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
  };
  const child = body.manifests?.find(
    (m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
  );
  const manifest = child ? await services.manifests.get(repo, child.digest) : null;
  if (!manifest) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'manifest list has no linux/amd64 image for this client');
  }
  return manifest;
}

export const getManifest: Handler<ManifestRoute> = async (ctx) => {
  const { request, reply, route, services } = ctx;
  const repo = repository(services, route.name);
  let manifest = await resolve(services, repo, route.reference);
  const accepted = parseAccept(request.headers.accept);
  switch (negotiate(manifest.mediaType, accepted, !isDigest(route.reference))) {
    case 'not-acceptable':
      throw new RegistryError(
        'MANIFEST_UNKNOWN',
        `${manifest.mediaType === mediaTypes.ociIndex ? 'OCI index' : 'OCI manifest'} found, but accept header does not support it`,
      );
    case 'default-platform':
      manifest = await defaultPlatform(services, repo, manifest);
      break;
    case 'serve':
      break;
  }
  reply
    .header('Content-Type', manifest.mediaType)
    .header('Content-Length', String(manifest.content.length))
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', `"${manifest.digest}"`);
  if (request.method === 'HEAD') return reply.send();
  publishEvent(ctx, 'pull', {
    kind: 'manifest',
    repository: route.name,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    content: manifest.content,
    ...(isDigest(route.reference) ? {} : { tag: route.reference }),
  });
  return reply.send(manifest.content);
};

/** Reads a manifest body, refusing more than the 4 MiB Distribution accepts. */
async function readManifestBody(request: FastifyRequest): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  const tooLarge = () =>
    new RegistryError('MANIFEST_INVALID', `manifest exceeds the ${maxManifestSize} byte limit`, {
      status: 413,
      detail: { limit: maxManifestSize },
    });
  if (declared > maxManifestSize) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw) {
    total += (chunk as Buffer).length;
    if (total > maxManifestSize) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A PUT reference is a digest (verified against the body) or a tag to point at the new manifest. */
function manifestTarget(reference: string): { digest: string; algorithm: DigestAlgorithm } | { tag: string } {
  if (reference.includes(':')) return { digest: reference, algorithm: parseDigest(reference) };
  checkTag(reference);
  return { tag: reference };
}

export const putManifest: Handler<ManifestRoute> = async (ctx) => {
  const { request, reply, route, services } = ctx;
  const { name, reference } = route;
  const repo = repository(services, name);
  const target = manifestTarget(reference);
  const content = await readManifestBody(request);
  const result = await services.manifests.put(repo, target, content, request.headers['content-type']);
  reply
    .code(201)
    .header('Location', `/v2/${name}/manifests/${result.digest}`)
    .header('Docker-Content-Digest', result.digest)
    .header('Content-Length', '0');
  if (result.subject) reply.header('OCI-Subject', result.subject);
  // Published before the response, so a client's next request cannot overtake it in the queue.
  publishEvent(ctx, 'push', {
    kind: 'manifest',
    repository: name,
    digest: result.digest,
    mediaType: result.mediaType,
    content,
    ...('tag' in target ? { tag: target.tag } : {}),
  });
  return reply.send();
};

export const deleteManifest: Handler<ManifestRoute> = async (ctx) => {
  const { reply, route, services } = ctx;
  if (!services.settings().deleteEnabled) throw deleteDisabled();
  const repo = repository(services, route.name);
  const { reference } = route;
  if (isDigest(reference) || reference.includes(':')) {
    parseDigest(reference);
    await services.manifests.delete(repo, reference);
    publishEvent(ctx, 'delete', { kind: 'deleted', repository: route.name, digest: reference });
  } else {
    // Deleting by tag removes the tag only (Distribution v3); the manifest stays reachable by digest.
    checkTag(reference);
    if (!(await repo.untag(reference))) throw manifestUnknown(reference);
    publishEvent(ctx, 'delete', { kind: 'deleted', repository: route.name, tag: reference });
  }
  reply.code(202).header('Content-Length', '0');
  return reply.send();
};
