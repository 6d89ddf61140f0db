// From the registry's usage answer to status.usage: the deduplicated total and the largest repositories.
import type { RegistryUsageResponse } from '../../../registry/http/usage-api.ts';
import { usageTopRepositories, type StorageUsageStatus } from '../../api/index.ts';

export function usageStatus(usage: RegistryUsageResponse): StorageUsageStatus {
  return {
    totalBytes: usage.totalBytes,
    repositories: usage.repositories
      .slice(0, usageTopRepositories)
      .map(({ name, bytes }) => ({ name, bytes })),
    scannedAt: usage.scan.scannedAt,
  };
}

/** Whether status.usage already says this (then nothing is written). */
export function sameUsage(a: StorageUsageStatus | undefined, b: StorageUsageStatus): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
