// GET /berth/v1/repositories/<name>/usage (pull on the repository) and GET /berth/v1/usage (the catalog
// scope, as /v2/_catalog: it names every repository): storage used, from the last periodic scan
// (registry/usage/scanner.ts).
//
// Before the first scan finished, or for a repository pushed since the last scan, the answer is 503
// UNAVAILABLE with a Retry-After: computing on demand would let any reader start a scan of the whole store
// (every repository and blob: minutes and many billed requests on a large bucket), and the first scan starts
// with the registry, so the wait is short. With scanning disabled (`berth.usage.interval: 0`) the answer is
// 503 without Retry-After.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthRequestInfo } from '../auth/types.ts';
import { RegistryError } from '../errors.ts';
import { checkName } from '../names.ts';
import type { RepositoryUsage, UsageSnapshot } from '../usage/scan.ts';
import { authorizeCatalog } from './access.ts';
import { repository, type Services } from './context.ts';
import { parsePage } from './listing.ts';
import {
  toRepositoryUsage,
  toUsageScan,
  type RegistryUsageResponse,
  type RepositoryUsageResponse,
} from './usage-api.ts';

export const registryUsageRoute = '/berth/v1/usage';
export const repositoryUsagePattern = /^\/berth\/v1\/repositories\/(.+)\/usage$/;

/** Until the first scan finished: a scan of a small store takes a few seconds. */
const firstScanRetrySeconds = 10;

/** What the HTTP layer needs of the scanner. */
export interface UsageSource {
  readonly intervalMs: number;
  latest(): UsageSnapshot | undefined;
}

function notReady(reason: string, retryAfterSeconds: number): RegistryError {
  return new RegistryError('UNAVAILABLE', reason, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
    detail: { reason },
  });
}

/** The last scan's result, or the 503 that explains why there is none. */
function lastScan(services: Services): UsageSnapshot {
  const usage = services.usage;
  if (!usage) {
    const reason = 'storage usage is not computed: berth.usage.interval is 0';
    throw new RegistryError('UNAVAILABLE', reason, { detail: { reason } });
  }
  const snapshot = usage.latest();
  if (!snapshot) throw notReady('the first storage usage scan has not finished yet', firstScanRetrySeconds);
  return snapshot;
}

const indexes = new WeakMap<UsageSnapshot, Map<string, RepositoryUsage>>();

/** The snapshot's repositories by name, built once per snapshot (a registry may hold many thousands). */
function repositoryIndex(snapshot: UsageSnapshot): Map<string, RepositoryUsage> {
  let index = indexes.get(snapshot);
  if (!index) {
    index = new Map(snapshot.repositories.map((repo) => [repo.name, repo]));
    indexes.set(snapshot, index);
  }
  return index;
}

/** Seconds until the scan after `snapshot` should have finished (it starts an interval after the last one). */
function secondsToNextScan(snapshot: UsageSnapshot, intervalMs: number): number {
  const due = snapshot.scannedAt.getTime() + intervalMs + snapshot.cost.durationMs;
  return Math.max(1, Math.ceil((due - Date.now()) / 1000));
}

export async function repositoryUsage(
  request: FastifyRequest,
  reply: FastifyReply,
  services: Services,
  info: AuthRequestInfo,
  name: string,
): Promise<void> {
  checkName(name);
  await services.authorizer.authorize(
    request.headers.authorization,
    [{ type: 'repository', name, actions: ['pull'] }],
    info,
  );
  const snapshot = lastScan(services);
  const usage = repositoryIndex(snapshot).get(name);
  if (!usage) {
    if (!(await repository(services, name).exists())) {
      throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { detail: { name } });
    }
    throw notReady(
      'the repository was created after the last storage usage scan',
      secondsToNextScan(snapshot, services.usage?.intervalMs ?? 0),
    );
  }
  const body: RepositoryUsageResponse = { ...toRepositoryUsage(usage), scan: toUsageScan(snapshot) };
  reply.send(body);
}

export async function registryUsage(
  request: FastifyRequest,
  reply: FastifyReply,
  services: Services,
  info: AuthRequestInfo,
): Promise<void> {
  await authorizeCatalog(request, services, info);
  const { n } = parsePage(request);
  const snapshot = lastScan(services);
  const repositories = n === undefined ? snapshot.repositories : snapshot.repositories.slice(0, n);
  const body: RegistryUsageResponse = {
    totalBytes: snapshot.totalBytes,
    sumBytes: snapshot.sumBytes,
    blobs: snapshot.blobs,
    repositories: repositories.map(toRepositoryUsage),
    scan: toUsageScan(snapshot),
  };
  reply.send(body);
}
