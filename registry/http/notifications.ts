// GET /berth/v1/notifications: the health of this pod's notification endpoints (notifications-api.ts). Needs
// the catalog scope, as GET /berth/v1/usage: endpoint names and failure reasons are the operator's business.
import { hostname } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthRequestInfo } from '../auth/types.ts';
import { authorizeCatalog } from './access.ts';
import type { Services } from './context.ts';
import type { NotificationsHealthResponse } from './notifications-api.ts';

export const notificationsHealthRoute = '/berth/v1/notifications';

export async function notificationsHealth(
  request: FastifyRequest,
  reply: FastifyReply,
  services: Services,
  info: AuthRequestInfo,
): Promise<void> {
  await authorizeCatalog(request, services, info);
  const body: NotificationsHealthResponse = {
    pod: hostname(),
    endpoints: services.notifier?.health() ?? [],
  };
  reply.send(body);
}
