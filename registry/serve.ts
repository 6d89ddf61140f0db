// `berth-registry serve CONFIG`: load and validate the config, build the app, listen, follow config changes
// (read-only mode, token-auth keys and other settings switch without a restart), and shut down gracefully.
//
// The building blocks are exported for `berth-registry standalone` (standalone.ts), which serves the same
// registry from a generated config and mounts the token issuer next to it: `buildRegistry` makes the app and its
// services without listening, `Registry.apply` takes a reloaded config, `Registry.listen` starts serving.
//
// Shutdown (`close`): stop accepting, give the requests in flight `http.draintimeout` (default 10 s) to finish,
// cut the rest (logging each), and remove the uploads those cuts left that no client can resume
// (upload-writes.ts); then queued notifications get a short flush (`notificationFlushMs`).
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadConfig, type LoadedConfig } from './config/load.ts';
import { ConfigWatcher } from './config/watch.ts';
import { parseDuration, type RegistryConfig } from './config/schema.ts';
import { HttpDrain } from './http-drain.ts';
import { attachDebugServer } from './debug-server.ts';
import { createLogger } from './logger.ts';
import { createStorageDriver } from './storage/factory.ts';
import { BlobStore } from './store/blob-store.ts';
import { BodyGarbage } from './body-garbage.ts';
import { removeCutUploads, TrackedUploadStore, type UploadWrite } from './upload-writes.ts';
import { ManifestStore } from './store/manifests.ts';
import { buildRegistryApp } from './http/app.ts';
import type { RegistrySettings, Services } from './http/context.ts';
import { BlobDescriptorCache } from './store/blob-descriptors.ts';
import { openAccess, type Authorizer } from './auth/types.ts';
import { HeartbeatWriter } from './heartbeat.ts';
import { UploadPurger, uploadPurgingSettings } from './gc/upload-purger.ts';
import { Dispatcher } from './notifications/dispatcher.ts';
import { createUsageMetrics } from './usage/metrics.ts';
import { UsageScanner } from './usage/scanner.ts';

export function settingsFrom(config: RegistryConfig, revision: string): RegistrySettings {
  return {
    deleteEnabled: config.storage.delete.enabled,
    redirectDisabled: config.storage.redirect.disable,
    readOnly: config.storage.maintenance.readonly.enabled,
    catalogMaxEntries: config.catalog.maxentries,
    revision,
  };
}

/** Splits Distribution's `http.addr` (`:5000`, `127.0.0.1:5000`, `[::1]:5000`) into host and port. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`http.addr: expected host:port, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '::' : host, port: Number(m[3]) };
}

export interface CloseOptions {
  /** Aborting it cuts the requests still in flight at once instead of waiting for them (a second Ctrl-C). */
  signal?: AbortSignal;
}

export interface RunningRegistry {
  url: string;
  close(options?: CloseOptions): Promise<void>;
}

/** How long requests in flight may take to finish on shutdown when `http.draintimeout` is unset. */
export const defaultDrainMs = 10_000;

/** How long queued notifications may take to be delivered on shutdown, after the requests have drained. */
export const notificationFlushMs = 5_000;

/** Cut uploads whose write has not ended this long after the cut are left to upload purging. */
const cutSettleMs = 5_000;

/** How often the token-auth key files (rootcertbundle, jwks) are checked for changes between config reloads. */
const authKeyPollMs = 5000;

/** Whether the access token a bearer token was issued for has been revoked since (see token-verifier.ts). */
export type RevocationCheck = (credential: { subject: string; fingerprint: string }) => boolean;

/** The verifier for `auth.token`, or open access without it. */
async function createAuthorizer(
  config: RegistryConfig,
  log: Logger,
  isRevoked: RevocationCheck | undefined,
): Promise<Authorizer> {
  if (!config.auth.token) return openAccess;
  // Loaded only when configured: jose and the x509 code are a sizeable part of an idle process's memory.
  const { createTokenAuthorizer } = await import('./auth/token-verifier.ts');
  return createTokenAuthorizer({
    ...config.auth.token,
    logger: log.child({ component: 'auth' }),
    watchIntervalMs: authKeyPollMs,
    ...(isRevoked ? { isRevoked } : {}),
  });
}

export interface BuildOptions {
  logger?: Logger;
  /** Bearer tokens whose access token this says is revoked are refused (standalone, where the issuer is local). */
  isRevoked?: RevocationCheck;
}

/** A registry that is built but may not be listening yet. */
export interface Registry {
  readonly app: FastifyInstance;
  readonly services: Services;
  readonly log: Logger;
  /** The configuration in force (the last one applied). */
  readonly config: RegistryConfig;
  /**
   * Takes a reloaded configuration: settings (read-only mode etc.) switch at once; token-auth keys are re-read,
   * or the verifier is rebuilt when `auth.token` itself changed. Never rejects: when the new auth settings cannot
   * be loaded the previous verifier stays in force and the error is logged. Storage and listen address changes
   * need a restart, and so do notification endpoint changes.
   */
  apply(next: Pick<LoadedConfig, 'config' | 'revision'>): Promise<void>;
  /** Listens on `http.addr` and starts the heartbeat; resolves with the address. */
  listen(): Promise<string>;
  /**
   * Stops serving: requests in flight get `http.draintimeout` to finish, the rest are cut and the uploads that
   * leaves unresumable are removed; then the heartbeat and the verifier's file watchers stop.
   */
  close(options?: CloseOptions): Promise<void>;
}

export async function buildRegistry(
  loaded: Pick<LoadedConfig, 'config' | 'revision'>,
  options: BuildOptions = {},
): Promise<Registry> {
  let config = loaded.config;
  const log =
    options.logger ??
    createLogger({ level: config.log.level, fields: config.log.fields, formatter: config.log.formatter });
  const driver = await createStorageDriver(config.storage);
  const blobs = new BlobStore(driver);
  const uploads = new TrackedUploadStore(driver, blobs, new BodyGarbage());
  let settings = settingsFrom(config, loaded.revision);
  const services: Services = {
    driver,
    blobs,
    uploads,
    manifests: new ManifestStore(blobs),
    authorizer: await createAuthorizer(config, log, options.isRevoked),
    settings: () => settings,
    ...(config.storage.cache.blobdescriptor === 'inmemory'
      ? { descriptors: new BlobDescriptorCache(config.storage.cache.blobdescriptorsize) }
      : {}),
  };

  const https = config.http.tls?.certificate
    ? { cert: await readFile(config.http.tls.certificate), key: await readFile(config.http.tls.key ?? '') }
    : undefined;
  const { app, metrics } = buildRegistryApp({
    services,
    logger: log,
    ...(config.http.headers ? { headers: config.http.headers } : {}),
    ...(https ? { https } : {}),
  });
  attachDebugServer(app, config.http.debug, { metrics: metrics.registry, driver, log });
  const notifications = new Dispatcher({
    endpoints: config.notifications.endpoints,
    includeReferences: config.notifications.events.includereferences,
    port: parseListenAddress(config.http.addr).port,
    metrics: metrics.registry,
    logger: log,
  });
  if (notifications.enabled) services.notifier = notifications;
  const usageIntervalMs = parseDuration(config.berth.usage.interval);
  const usage =
    usageIntervalMs > 0
      ? new UsageScanner({
          driver,
          intervalMs: usageIntervalMs,
          metrics: createUsageMetrics(metrics.registry),
          logger: log.child({ component: 'usage' }),
        })
      : undefined;
  if (usage) services.usage = usage;
  const drain = new HttpDrain(app);
  const heartbeat = new HeartbeatWriter(driver, () => settings, log);
  const purging = uploadPurgingSettings(config.storage.maintenance.uploadpurging);
  // Abandoned uploads are purged on Distribution's schedule; never while read-only (the purger checks).
  const purger = purging.enabled
    ? new UploadPurger({
        driver,
        ageMs: purging.ageMs,
        intervalMs: purging.intervalMs,
        dryRun: purging.dryRun,
        isReadOnly: () => settings.readOnly,
        logger: log,
      })
    : undefined;

  // Config changes are applied one at a time, in order. `authInForce`: the auth.token settings the current
  // verifier was built from (a change that failed to load leaves the previous verifier, and these, in force).
  let applying: Promise<void> = Promise.resolve();
  let authInForce = JSON.stringify(config.auth.token);
  const notificationsInForce = config.notifications;
  async function applyAuth(next: RegistryConfig): Promise<void> {
    if (authInForce === JSON.stringify(next.auth.token)) {
      // Same settings: the key files may still have changed (a rotated certificate bundle).
      try {
        await services.authorizer.reload?.();
      } catch (err) {
        log.error(
          { reason: (err as Error).message },
          'token auth keys not reloaded; the previous keys stay in force',
        );
      }
      return;
    }
    let replacement: Authorizer;
    try {
      replacement = await createAuthorizer(next, log, options.isRevoked);
    } catch (err) {
      log.error(
        { reason: (err as Error).message },
        'new auth.token settings not applied; the previous ones stay in force',
      );
      return;
    }
    const replaced = services.authorizer;
    services.authorizer = replacement;
    authInForce = JSON.stringify(next.auth.token);
    await replaced.close();
    log.info({ tokenAuth: next.auth.token !== undefined }, 'token auth settings replaced');
  }

  return {
    app,
    services,
    log,
    get config() {
      return config;
    },
    apply(next) {
      applying = applying.then(async () => {
        const wasReadOnly = settings.readOnly;
        config = next.config;
        settings = settingsFrom(next.config, next.revision);
        // A GC may run in (or has just ended) a read-only window: nothing cached before it can be trusted.
        if (settings.readOnly !== wasReadOnly) services.descriptors?.clear();
        log.info(
          { revision: next.revision, readOnly: settings.readOnly, wasReadOnly },
          'configuration reloaded',
        );
        // Record the new mode at once: maintenance tools read it from storage before they act.
        await heartbeat.beat().catch((err: unknown) => log.warn({ err }, 'could not record the heartbeat'));
        if (JSON.stringify(next.config.notifications) !== JSON.stringify(notificationsInForce)) {
          log.warn('notification endpoint changes take effect at the next restart');
        }
        await applyAuth(next.config);
      });
      return applying;
    },
    async listen() {
      const { host, port } = parseListenAddress(config.http.addr);
      const address = await app.listen({ host, port });
      await heartbeat.start();
      purger?.start();
      usage?.start();
      log.info(
        { address, revision: settings.revision, storage: driver.name, readOnly: settings.readOnly },
        'registry listening',
      );
      return address;
    },
    async close(closeOptions = {}) {
      let cutWrites: UploadWrite[] = [];
      const cut = await drain.close({
        graceMs:
          config.http.draintimeout !== undefined ? parseDuration(config.http.draintimeout) : defaultDrainMs,
        ...(closeOptions.signal ? { signal: closeOptions.signal } : {}),
        log,
        onCut: () => (cutWrites = uploads.inProgress()),
      });
      if (cut > 0) {
        await removeCutUploads({
          uploads,
          writes: cutWrites,
          log,
          isReadOnly: () => settings.readOnly,
          settleMs: cutSettleMs,
        });
      }
      await notifications.close(notificationFlushMs);
      await purger?.stop();
      await usage?.stop();
      await heartbeat.stop();
      await applying;
      await services.authorizer.close();
      log.info('registry stopped');
    },
  };
}

export async function serve(configPath: string, logger?: Logger): Promise<RunningRegistry> {
  const loaded = await loadConfig(configPath);
  const registry = await buildRegistry(loaded, logger ? { logger } : {});
  const log = registry.log;

  const watcher = new ConfigWatcher(configPath, { initial: loaded });
  watcher.on('change', (next: LoadedConfig) => void registry.apply(next));
  watcher.on('error', (err: Error) =>
    log.error({ err: err.message }, 'configuration reload rejected; keeping the running configuration'),
  );

  let url: string;
  try {
    url = await registry.listen();
  } catch (err) {
    await watcher.close();
    await registry.close();
    throw err;
  }
  return {
    url,
    async close(options) {
      await watcher.close();
      await registry.close(options);
    },
  };
}
