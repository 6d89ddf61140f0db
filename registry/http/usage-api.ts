// The wire format of `GET /berth/v1/repositories/<name>/usage` and `GET /berth/v1/usage`, shared with their
// clients (the operator copies the registry-wide answer into the ContainerRegistry status).
import { z } from 'zod';
import type { RepositoryUsage, UsageSnapshot } from '../usage/scan.ts';

const bytes = z.int().min(0);
const count = z.int().min(0);

export const repositoryUsageSchema = z.object({
  name: z.string().min(1),
  bytes,
  blobs: count,
  manifests: count,
  layers: count,
  missingBlobs: count,
});

/** What the scan the answer comes from cost, and when it finished. */
export const usageScanSchema = z.object({
  scannedAt: z.iso.datetime({ offset: true }),
  durationMs: count,
  storageCalls: count,
  entriesListed: count,
  stats: count,
  repositories: count,
});

export const repositoryUsageResponseSchema = repositoryUsageSchema.extend({ scan: usageScanSchema });
export type RepositoryUsageResponse = z.infer<typeof repositoryUsageResponseSchema>;

export const registryUsageResponseSchema = z.object({
  /** Each blob once, however many repositories hold it. */
  totalBytes: bytes,
  /** The repositories' bytes added up. */
  sumBytes: bytes,
  blobs: count,
  /** Largest first; the first `n` when `?n=` is given. */
  repositories: z.array(repositoryUsageSchema),
  scan: usageScanSchema,
});
export type RegistryUsageResponse = z.infer<typeof registryUsageResponseSchema>;

export function toUsageScan(snapshot: UsageSnapshot): z.infer<typeof usageScanSchema> {
  const { cost } = snapshot;
  return {
    scannedAt: snapshot.scannedAt.toISOString(),
    durationMs: Math.round(cost.durationMs),
    storageCalls: cost.calls,
    entriesListed: cost.entriesListed,
    stats: cost.stats,
    repositories: cost.repositories,
  };
}

export function toRepositoryUsage(usage: RepositoryUsage): z.infer<typeof repositoryUsageSchema> {
  const { name, bytes, blobs, manifests, layers, missingBlobs } = usage;
  return { name, bytes, blobs, manifests, layers, missingBlobs };
}
