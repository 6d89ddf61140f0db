// Tags list (end-8a/8b) and catalog, both with `n`/`last` pagination and a `Link` header to the next page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.ts';
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import { repositoriesRoot } from '../storage/paths.ts';
import { queryParam, repository, type Handler } from './context.ts';
import type { Route } from './routes.ts';

type TagsRoute = Extract<Route, { kind: 'tags' }>;

export interface Page {
  n: number | undefined;
  last: string | undefined;
}

export function parsePage(request: FastifyRequest, max?: number): Page {
  const raw = queryParam(request, 'n');
  let n: number | undefined;
  if (raw !== undefined && raw !== '') {
    n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || (max !== undefined && n > max)) {
      throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', {
        detail: { n: raw, ...(max !== undefined ? { max } : {}) },
      });
    }
  }
  return { n, last: queryParam(request, 'last') };
}

/** Applies `last` and `n` to a sorted list; sets `Link` when entries remain. */
export function paginate(
  reply: FastifyReply,
  path: string,
  all: string[],
  page: Page,
  defaultN?: number,
): string[] {
  const { last: from } = page;
  const after = from === undefined ? all : all.filter((entry) => entry > from);
  const n = page.n ?? defaultN;
  if (n === undefined || after.length <= n) return after;
  const entries = after.slice(0, n);
  const last = entries[entries.length - 1];
  if (last !== undefined) {
    reply.header('Link', `<${path}?last=${encodeURIComponent(last)}&n=${n}>; rel="next"`);
  }
  return entries;
}

export const listTags: Handler<TagsRoute> = async ({ request, reply, route, services }) => {
  const page = parsePage(request);
  const repo = repository(services, route.name);
  const tags = await repo.tags();
  if (tags.length === 0 && !(await repo.exists())) {
    throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', {
      detail: { name: route.name },
    });
  }
  const entries = paginate(reply, `/v2/${route.name}/tags/list`, tags, page);
  return reply.send({ name: route.name, tags: entries });
};

export const listCatalog: Handler = async ({ request, reply, services }) => {
  const max = services.settings().catalogMaxEntries;
  const page = parsePage(request, max);
  const repositories = await allRepositories(services.driver);
  const entries = paginate(reply, '/v2/_catalog', repositories, page, max);
  return reply.send({ repositories: entries });
};

/**
 * Every repository name, sorted. A directory is a repository when it holds `_manifests` (Distribution's rule);
 * `_`-prefixed directories are registry metadata and never descended into.
 */
export async function allRepositories(driver: StorageDriver): Promise<string[]> {
  const result: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let children: string[];
    try {
      children = await driver.list(dir);
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
    const names = children.map((c) => c.slice(c.lastIndexOf('/') + 1));
    if (prefix !== '' && names.includes('_manifests')) result.push(prefix);
    for (const name of names) {
      if (name.startsWith('_')) continue;
      const info = await driver.stat(`${dir}/${name}`);
      if (info.isDir) await visit(`${dir}/${name}`, prefix === '' ? name : `${prefix}/${name}`);
    }
  };
  await visit(repositoriesRoot, '');
  return result.sort();
}
