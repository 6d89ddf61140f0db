// GET /berth/v1/repositories/<name>/tags: a repository's tags with digest, media type, sizes and dates —
// what cleanup policies need and Distribution's tags list lacks. Paginated and authorized like the tags
// list (`n`, `last`, a `Link` to the next page; pull on the repository), in pages of at most 1000 tags
// because each tag costs a few storage reads.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthRequestInfo } from '../auth/types.ts';
import { RegistryError } from '../errors.ts';
import { checkName } from '../names.ts';
import { tagDetails } from '../store/tag-details.ts';
import { repository, type Services } from './context.ts';
import { repositoryPathName } from './extension-paths.ts';
import { paginate, parsePage } from './listing.ts';
import { toTagDetailsEntry, type TagDetailsPage } from './tag-details-api.ts';

export const tagDetailsRoute = '/berth/v1/repositories/*';
export const defaultTagDetailsPage = 100;
export const maxTagDetailsPage = 1000;

const pathPattern = /^\/berth\/v1\/repositories\/(.+)\/tags$/;

/** The repository name of a tag-details path, or undefined for any other path under the route. */
export function tagDetailsName(url: string): string | undefined {
  return repositoryPathName(url, pathPattern);
}

export async function listTagDetails(
  request: FastifyRequest,
  reply: FastifyReply,
  services: Services,
  info: AuthRequestInfo,
): Promise<void> {
  const name = tagDetailsName(request.url);
  if (name === undefined) {
    reply.callNotFound();
    return;
  }
  // The same order of checks as the tags list: name, then access, then the query.
  checkName(name);
  await services.authorizer.authorize(
    request.headers.authorization,
    [{ type: 'repository', name, actions: ['pull'] }],
    info,
  );
  const page = parsePage(request, maxTagDetailsPage);
  const repo = repository(services, name);
  const tags = await repo.tags();
  if (tags.length === 0 && !(await repo.exists())) {
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { detail: { name } });
  }
  const names = paginate(reply, `/berth/v1/repositories/${name}/tags`, tags, page, defaultTagDetailsPage);
  const details = await tagDetails(services.manifests, repo, names);
  const body: TagDetailsPage = { name, tags: details.map(toTagDetailsEntry) };
  reply.send(body);
}
