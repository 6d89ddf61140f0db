// Starts the registry app in-process on a loopback port over a fresh filesystem root, for API tests that need
// to reach into settings (read-only, delete) or the storage root directly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { BlobStore } from '../../registry/store/blob-store.ts';
import { UploadStore } from '../../registry/store/uploads.ts';
import { ManifestStore } from '../../registry/store/manifests.ts';
import { buildRegistryApp } from '../../registry/http/app.ts';
import type { RegistrySettings, Services } from '../../registry/http/context.ts';
import { openAccess, type Authorizer } from '../../registry/auth/types.ts';
import { createUsageMetrics } from '../../registry/usage/metrics.ts';
import { UsageScanner } from '../../registry/usage/scanner.ts';
import type { ServerLimits } from '../../registry/http/server-limits.ts';

export interface TestRegistry {
  url: string;
  root: string;
  services: Services;
  settings: RegistrySettings;
  /** The usage scanner, when asked for (not started: tests scan with `scanNow()`). */
  usage?: UsageScanner;
  /** The `/metrics` text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestRegistry(
  options: {
    settings?: Partial<RegistrySettings>;
    authorizer?: Authorizer;
    root?: string;
    /** Another storage driver (an object store); `root` is then only a scratch directory. */
    driver?: StorageDriver;
    /** Attach a usage scanner, its gauges capped at `topRepositories`. */
    usage?: { intervalMs: number; topRepositories?: number };
    /** Connection limits (short ones for the slow-client tests). */
    limits?: Partial<ServerLimits>;
    /** Extra response headers, as `http.headers` in the config. */
    headers?: Record<string, string[]>;
  } = {},
): Promise<TestRegistry> {
  // A caller may pass another instance's root: two replicas over one storage.
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'berth-api-')));
  const driver =
    options.driver ??
    (process.env['BERTH_TEST_DRIVER'] === 'inmemory'
      ? new InMemoryDriver()
      : new FilesystemDriver({ rootDirectory: root }));
  const blobs = new BlobStore(driver);
  const settings: RegistrySettings = {
    deleteEnabled: true,
    redirectDisabled: false,
    readOnly: false,
    catalogMaxEntries: 1000,
    revision: 'test',
    ...options.settings,
  };
  const services: Services = {
    driver,
    blobs,
    uploads: new UploadStore(driver, blobs),
    manifests: new ManifestStore(blobs),
    authorizer: options.authorizer ?? openAccess,
    settings: () => settings,
  };
  const logger = pino({ level: process.env['BERTH_TEST_LOG'] ?? 'silent' });
  const { app, metrics } = buildRegistryApp({
    services,
    logger,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
  const usage = options.usage
    ? new UsageScanner({
        driver,
        intervalMs: options.usage.intervalMs,
        metrics: createUsageMetrics(metrics.registry, options.usage.topRepositories),
        logger,
      })
    : undefined;
  if (usage) services.usage = usage;
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    root,
    services,
    settings,
    ...(usage ? { usage } : {}),
    metrics: () => metrics.registry.metrics(),
    async close() {
      await usage?.stop();
      await app.close();
      if (!options.root) await rm(root, { recursive: true, force: true });
    },
  };
}
