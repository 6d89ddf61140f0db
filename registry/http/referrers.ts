// The referrers API (end-12a/12b): an OCI index of the manifests whose `subject` is the given digest.
import { parseDigest } from '../digest.ts';
import { mediaTypes } from '../manifest.ts';
import { queryParam, repository, type Handler } from './context.ts';
import type { Route } from './routes.ts';

type ReferrersRoute = Extract<Route, { kind: 'referrers' }>;

export const listReferrers: Handler<ReferrersRoute> = async ({ request, reply, route, services }) => {
  parseDigest(route.digest);
  const artifactType = queryParam(request, 'artifactType');
  const manifests = await services.manifests.referrers(
    repository(services, route.name),
    route.digest,
    artifactType,
  );
  if (artifactType !== undefined) reply.header('OCI-Filters-Applied', 'artifactType');
  reply.header('Content-Type', mediaTypes.ociIndex);
  return reply.send(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests })),
  );
};
