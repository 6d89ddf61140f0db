// The registry API a cleanup run needs, over HTTP to the registry's Service: the catalog, each repository's
// tag details (Berth's extension endpoint) and tag deletion. Each call carries a bearer token for exactly the
// scope it needs (`tokenFor`), so a run holds delete rights only on the repositories its policy covers.
import { z } from 'zod';
import type { AccessRequest } from '../../../registry/auth/types.ts';
import { tagDetailsPageSchema, type TagDetailsEntry } from '../../../registry/http/tag-details-api.ts';

export class RegistryCallError extends Error {
  readonly status: number;
  constructor(what: string, status: number, body: string) {
    super(`${what}: HTTP ${String(status)}${body !== '' ? ` ${body.slice(0, 300)}` : ''}`);
    this.name = 'RegistryCallError';
    this.status = status;
  }
}

export interface RegistryClientOptions {
  baseUrl: string;
  /** A bearer token granting exactly `access` (the catalog; pull or delete on one repository). */
  tokenFor: (access: AccessRequest) => Promise<string>;
  signal?: AbortSignal;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

const catalogAccess: AccessRequest = { type: 'registry', name: 'catalog', actions: ['*'] };
const catalogPageSchema = z.object({ repositories: z.array(z.string()).nullable().default([]) });

/** The next page's path from a Link header (`<path?n=…&last=…>; rel="next"`), if any. */
function nextLink(link: string | null): string | undefined {
  return link === null ? undefined : /<([^>]+)>;\s*rel="?next"?/.exec(link)?.[1];
}

export class RegistryClient {
  private readonly opts: RegistryClientOptions;
  constructor(opts: RegistryClientOptions) {
    this.opts = opts;
  }

  private async call(method: string, path: string, access: AccessRequest): Promise<Response> {
    const token = await this.opts.tokenFor(access);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    return fetch(new URL(path, this.opts.baseUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout,
    });
  }

  /** Follows a paginated listing to its end. */
  private async *pages(first: string, access: AccessRequest, what: string): AsyncGenerator<unknown> {
    let path: string | undefined = first;
    while (path !== undefined) {
      const res = await this.call('GET', path, access);
      if (!res.ok) throw new RegistryCallError(what, res.status, await res.text());
      yield await res.json();
      path = nextLink(res.headers.get('link'));
    }
  }

  /** Every repository name in the registry. */
  async repositories(): Promise<string[]> {
    const names: string[] = [];
    for await (const page of this.pages('/v2/_catalog?n=1000', catalogAccess, 'catalog')) {
      names.push(...(catalogPageSchema.parse(page).repositories ?? []));
    }
    return names;
  }

  /** A repository's tags with digests and dates. */
  async tagDetails(repository: string): Promise<TagDetailsEntry[]> {
    const tags: TagDetailsEntry[] = [];
    const first = `/berth/v1/repositories/${repository}/tags?n=1000`;
    const access: AccessRequest = { type: 'repository', name: repository, actions: ['pull'] };
    for await (const page of this.pages(first, access, `tags of ${repository}`)) {
      tags.push(...tagDetailsPageSchema.parse(page).tags);
    }
    return tags;
  }

  /** Deletes one tag (never the manifest by digest). A tag already gone counts as deleted. */
  async deleteTag(repository: string, tag: string): Promise<void> {
    const res = await this.call('DELETE', `/v2/${repository}/manifests/${encodeURIComponent(tag)}`, {
      type: 'repository',
      name: repository,
      actions: ['delete'],
    });
    const body = await res.text();
    if (res.status === 202 || res.status === 404) return;
    throw new RegistryCallError(`deleting ${repository}:${tag}`, res.status, body);
  }
}
