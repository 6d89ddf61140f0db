// Builds the registry's fastify app: the OCI Distribution API under /v2/, health, metrics and Berth's
// extension API. Request bodies are never parsed by fastify: uploads stream from the raw request.
import type { ServerResponse } from 'node:http';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { RegistryError, isRegistryError } from '../errors.ts';
import { checkName } from '../names.ts';
import type { AccessRequest, AuthRequestInfo } from '../auth/types.ts';
import { matchRoute, allowedMethods, requestPath, type Route, type RouteKind } from './routes.ts';
import { requiredAccess, writeMethods } from './access.ts';
import type { Handler, Services } from './context.ts';
import { deleteBlob, getBlob } from './blobs.ts';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.ts';
import { deleteManifest, getManifest, putManifest } from './manifests.ts';
import { listCatalog, listTags } from './listing.ts';
import { listReferrers } from './referrers.ts';
import { listTagDetails, tagDetailsRoute } from './tag-details.ts';
import { notificationsHealth, notificationsHealthRoute } from './notifications.ts';
import { registryUsage, registryUsageRoute, repositoryUsage, repositoryUsagePattern } from './usage.ts';
import { repositoryPathName } from './extension-paths.ts';
import { createHttpMetrics, type HttpMetrics } from './metrics.ts';
import { FilesystemDriver } from '../storage/filesystem.ts';
import { registerSmallFileReadMetrics } from '../storage/small-file-read-metrics.ts';
import { StorageHealthCheck } from './health.ts';
import { defaultServerLimits, nodeServerOptions, type ServerLimits } from './server-limits.ts';
import { noSchemaCompilers } from './no-schema-compilers.ts';

declare module 'fastify' {
  interface FastifyRequest {
    registryRoute: string;
    startedAt: bigint;
  }
}

const apiVersionHeader = 'Docker-Distribution-API-Version';
const notFoundBody = '404 page not found\n';

const base: Handler = async ({ reply }) => {
  reply.header('Content-Type', 'application/json; charset=utf-8');
  return reply.send('{}');
};

const handlers: Record<RouteKind, Partial<Record<string, Handler<never>>>> = {
  base: { GET: base, HEAD: base },
  catalog: { GET: listCatalog },
  tags: { GET: listTags },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  referrers: { GET: listReferrers },
};

export interface RegistryAppOptions {
  services: Services;
  logger: Logger;
  /** Extra response headers from `http.headers`. */
  headers?: Record<string, string[]>;
  /** TLS material from `http.tls`; plain HTTP without it. */
  https?: { cert: Buffer; key: Buffer };
  /** Connection limits against slow and hostile clients; defaults in server-limits.ts. */
  limits?: Partial<ServerLimits>;
}

export interface RegistryApp {
  app: FastifyInstance;
  metrics: HttpMetrics;
}

export function buildRegistryApp(options: RegistryAppOptions): RegistryApp {
  const { services, logger } = options;
  const metrics = createHttpMetrics();
  if (services.driver instanceof FilesystemDriver) {
    registerSmallFileReadMetrics(metrics.registry, services.driver.smallFileReads);
  }
  const health = new StorageHealthCheck(services.driver);
  const limits = { ...defaultServerLimits, ...options.limits };
  const serverOptions = nodeServerOptions(limits);
  const app = Fastify({
    // fastify hands `https` (or `http` without TLS) to node's createServer.
    ...(options.https ? { https: { ...options.https, ...serverOptions } } : { http: serverOptions }),
    loggerInstance: logger as FastifyBaseLogger,
    schemaController: noSchemaCompilers,
    // Access logging is ours (onResponse), so fastify's own per-request lines are off.
    logController: new LogController({ disableRequestLogging: true }),
    // Large pushes and pulls can take as long as they need; idle connections and slow headers are bounded.
    requestTimeout: 0,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    frameworkErrors: (error, _request, reply) => answerFrameworkError(error, reply.raw),
  }) as unknown as FastifyInstance;
  app.decorateRequest('registryRoute', 'other');
  app.decorateRequest('startedAt', 0n);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  const extraHeaders = Object.entries(options.headers ?? {}).map(([name, values]): [string, string] => [
    name,
    values.join(', '),
  ]);
  app.addHook('onRequest', (request, reply, done) => {
    request.startedAt = process.hrtime.bigint();
    // Node caches the peer's address on first read; read after the client hung up it is undefined, and a
    // notification event built at the end of a pull would carry no address.
    void request.socket.remoteAddress;
    metrics.inFlight.inc();
    reply.header(apiVersionHeader, 'registry/2.0');
    for (const [name, value] of extraHeaders) reply.header(name, value);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.inFlight.dec();
    const route = request.registryRoute;
    metrics.requests.inc({ method: request.method, route, code: String(reply.statusCode) });
    metrics.duration.observe(
      { method: request.method, route },
      Number(process.hrtime.bigint() - request.startedAt) / 1e9,
    );
    done();
  });

  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).header('Content-Type', 'text/plain; charset=utf-8').send(notFoundBody);
  });

  const dispatch = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = matchRoute(requestPath(request.url));
    if (!route) {
      reply.code(404).header('Content-Type', 'text/plain; charset=utf-8').send(notFoundBody);
      return;
    }
    request.registryRoute = route.kind;
    const allowed = allowedMethods[route.kind];
    if (!allowed.includes(request.method)) {
      throw new RegistryError('UNSUPPORTED', `method ${request.method} not allowed on this endpoint`, {
        headers: { Allow: allowed.join(', ') },
      });
    }
    if (route.kind !== 'base' && route.kind !== 'catalog') checkName(route.name);
    const auth = await services.authorizer.authorize(
      request.headers.authorization,
      requiredAccess(route, request.method),
    );
    if (writeMethods.has(request.method) && services.settings().readOnly) {
      throw new RegistryError(
        'UNSUPPORTED',
        'the registry is in read-only mode: writes are refused during maintenance',
        {
          headers: { Allow: 'GET, HEAD' },
          detail: { readOnly: true },
        },
      );
    }
    const handler = handlers[route.kind][request.method] as Handler<Route>;
    await handler({ request, reply, route, services, auth });
  };

  app.setErrorHandler(async (error, request, reply) => {
    // fastify refuses a Content-Type it cannot parse before any handler runs, to pick a body parser the registry
    // never uses (bodies are read raw). The handlers judge the header where it matters, as Distribution does:
    // a manifest PUT gets MANIFEST_INVALID, a blob upload ignores it. Without this, such a request was a 500.
    if (isUnparsableContentType(error) && request.url.startsWith('/v2')) {
      reply.code(200);
      try {
        await dispatch(request, reply);
      } catch (err) {
        sendError(err, request, reply);
      }
      return reply;
    }
    sendError(error, request, reply);
    return reply;
  });

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler: dispatch });
  app.route({ method: [...methods], url: '/v2/*', handler: dispatch });

  app.get('/debug/health', async (request, reply) => {
    request.registryRoute = 'health';
    const failures = await health.check();
    reply.code(Object.keys(failures).length === 0 ? 200 : 503).send(failures);
  });

  app.get('/metrics', async (request, reply) => {
    request.registryRoute = 'metrics';
    reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Berth's extension API: what the operator needs to prove a fleet's maintenance state, to run cleanup
  // policies (tag details) and to report storage usage and notification endpoint health.
  const maintenanceAccess: AccessRequest[] = [{ type: 'registry', name: 'maintenance', actions: ['*'] }];
  app.get('/berth/v1/maintenance', async (request, reply) => {
    request.registryRoute = 'maintenance';
    await services.authorizer.authorize(
      request.headers.authorization,
      maintenanceAccess,
      requestInfo(request),
    );
    const settings = services.settings();
    reply.send({ readOnly: settings.readOnly, configRevision: settings.revision, pid: process.pid });
  });

  // One wildcard for everything under repositories/ (names hold slashes): routed by the path's suffix.
  app.get(tagDetailsRoute, async (request, reply) => {
    const usageOf = repositoryPathName(request.url, repositoryUsagePattern);
    if (usageOf !== undefined) {
      request.registryRoute = 'repositoryUsage';
      await repositoryUsage(request, reply, services, requestInfo(request), usageOf);
      return;
    }
    request.registryRoute = 'tagDetails';
    await listTagDetails(request, reply, services, requestInfo(request));
  });

  app.get(registryUsageRoute, async (request, reply) => {
    request.registryRoute = 'usage';
    await registryUsage(request, reply, services, requestInfo(request));
  });

  app.get(notificationsHealthRoute, async (request, reply) => {
    request.registryRoute = 'notifications';
    await notificationsHealth(request, reply, services, requestInfo(request));
  });

  return { app, metrics };
}

function requestInfo(request: FastifyRequest): AuthRequestInfo {
  const proto = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim();
  return {
    ...(request.headers.host !== undefined ? { host: request.headers.host } : {}),
    ...(first ? { forwardedProto: first } : {}),
  };
}

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (reply.sent || reply.raw.headersSent) {
    request.log.warn({ err: error }, 'error after the response started');
    reply.raw.destroy();
    return;
  }
  let registryError: RegistryError;
  if (isRegistryError(error)) {
    registryError = error;
  } else if (isClientAbort(error)) {
    request.log.info({ route: request.registryRoute }, 'client went away mid-request');
    reply.raw.destroy();
    return;
  } else {
    request.log.error({ err: error, route: request.registryRoute }, 'request failed');
    registryError = new RegistryError('UNKNOWN', 'internal error');
  }
  reply.code(registryError.status).headers(registryError.headers);
  reply.header('Content-Type', 'application/json; charset=utf-8');
  reply.send(JSON.stringify(registryError.toJSON()));
}

/**
 * Errors fastify's router raises before any hook runs. A path whose escapes are no UTF-8 (overlong `%c0%ae`, a
 * lone `%ff`) names no registry route: it gets the plain 404 of any unknown path, as from Distribution's router,
 * rather than fastify's own JSON body.
 */
function answerFrameworkError(error: FastifyError, res: ServerResponse): void {
  const status = error.code === 'FST_ERR_BAD_URL' ? 404 : (error.statusCode ?? 400);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', [apiVersionHeader]: 'registry/2.0' });
  res.end(status === 404 ? notFoundBody : `${error.message}\n`);
}

function isUnparsableContentType(error: unknown): boolean {
  return (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
}

function isClientAbort(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error).message === 'aborted'
  );
}
