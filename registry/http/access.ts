// Which access a request needs, by route and method, as Distribution maps them: GET/HEAD pull, POST/PUT/PATCH
// push+pull, DELETE delete; the catalog needs `registry:catalog:*`; `/v2/` needs any valid credential.
import type { AccessRequest } from '../auth/types.ts';
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
