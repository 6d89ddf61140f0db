// Which access a request needs, by route and method, as Distribution maps them: GET/HEAD pull, POST/PUT/PATCH
// push+pull, DELETE delete; the catalog needs `registry:catalog:*`; `/v2/` needs any valid credential.
import type { FastifyRequest } from 'fastify';
import type { AccessRequest, AuthRequestInfo } from '../auth/types.ts';
import type { Services } from './context.ts';
import type { Route } from './routes.ts';

export function requiredAccess(route: Route, method: string): AccessRequest[] {
  switch (route.kind) {
    case 'base':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    default: {
      const actions: AccessRequest['actions'] =
        method === 'GET' || method === 'HEAD'
          ? ['pull']
          : method === 'DELETE'
            ? ['delete']
            : ['pull', 'push'];
      return [{ type: 'repository', name: route.name, actions }];
    }
  }
}

export const writeMethods: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Berth's registry-wide answers (usage, notification health) need the catalog scope, as /v2/_catalog. */
export async function authorizeCatalog(
  request: FastifyRequest,
  services: Services,
  info: AuthRequestInfo,
): Promise<void> {
  await services.authorizer.authorize(
    request.headers.authorization,
    requiredAccess({ kind: 'catalog' }, 'GET'),
    info,
  );
}
