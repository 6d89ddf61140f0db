// Prometheus gauges for the last usage scan. Per-repository bytes are exported for the largest repositories
// only (`topRepositories`), so the series count stays bounded however many repositories there are; the
// deduplicated total covers them all.
import { Gauge, type Registry } from 'prom-client';
import type { UsageSnapshot } from './scan.ts';

/** Repositories with a `berth_repository_storage_bytes` series by default. */
export const defaultTopRepositories = 100;

export interface UsageMetrics {
  record(snapshot: UsageSnapshot): void;
}

export function createUsageMetrics(
  registry: Registry,
  topRepositories = defaultTopRepositories,
): UsageMetrics {
  const registers = [registry];
  const repositoryBytes = new Gauge({
    name: 'berth_repository_storage_bytes',
    help: `Bytes of the distinct blobs a repository holds (the ${topRepositories} largest), at the last usage scan`,
    labelNames: ['repository'],
    registers,
  });
  const total = new Gauge({
    name: 'berth_storage_bytes_total_deduplicated',
    help: 'Bytes of every blob some repository holds, each counted once, at the last usage scan',
    registers,
  });
  const duration = new Gauge({
    name: 'berth_usage_scan_duration_seconds',
    help: 'How long the last usage scan took',
    registers,
  });
  const operations = new Gauge({
    name: 'berth_usage_scan_storage_calls',
    help: 'Storage driver calls the last usage scan made',
    registers,
  });
  const entries = new Gauge({
    name: 'berth_usage_scan_entries_listed',
    help: 'Directory entries the last usage scan listed',
    registers,
  });
  const timestamp = new Gauge({
    name: 'berth_usage_scan_timestamp_seconds',
    help: 'When the last usage scan finished (Unix time)',
    registers,
  });
  return {
    record(snapshot) {
      // Reset first: a repository that left the top N (or was deleted) must not keep its old value.
      repositoryBytes.reset();
      for (const repo of snapshot.repositories.slice(0, topRepositories)) {
        repositoryBytes.set({ repository: repo.name }, repo.bytes);
      }
      total.set(snapshot.totalBytes);
      duration.set(snapshot.cost.durationMs / 1000);
      operations.set(snapshot.cost.calls);
      entries.set(snapshot.cost.entriesListed);
      timestamp.set(snapshot.scannedAt.getTime() / 1000);
    },
  };
}
