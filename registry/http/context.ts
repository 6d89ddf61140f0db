// What every handler gets: the stores, the live settings (replaced on config reload) and the caller's access.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StorageDriver } from '../storage/driver.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { UploadStore } from '../store/uploads.ts';
import type { ManifestStore } from '../store/manifests.ts';
import type { BlobDescriptorCache } from '../store/blob-descriptors.ts';
import { Repository } from '../store/repository.ts';
import type { AuthContext, Authorizer } from '../auth/types.ts';
import type { Route } from './routes.ts';
import type { Notifier } from '../notifications/dispatcher.ts';
import type { UsageSource } from './usage.ts';

/** The parts of the configuration the HTTP layer reads on every request; swapped whole on reload. */
export interface RegistrySettings {
  deleteEnabled: boolean;
  redirectDisabled: boolean;
  readOnly: boolean;
  catalogMaxEntries: number;
  /** Revision of the configuration these settings came from. */
  revision: string;
}

export interface Services {
  driver: StorageDriver;
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  authorizer: Authorizer;
  settings: () => RegistrySettings;
  /** `storage.cache.blobdescriptor: inmemory`; see blob-descriptors.ts for when it may be used. */
  descriptors?: BlobDescriptorCache;
  /** Webhook notifications (`notifications.endpoints`); absent when none is enabled. */
  notifier?: Notifier;
  /** The periodic storage usage scan; absent when `berth.usage.interval` is 0. */
  usage?: UsageSource;
}

export function repository(services: Services, name: string): Repository {
  return new Repository(services.driver, name);
}

export interface HandlerContext<R extends Route = Route> {
  request: FastifyRequest;
  reply: FastifyReply;
  route: R;
  services: Services;
  auth: AuthContext;
}

export type Handler<R extends Route = Route> = (ctx: HandlerContext<R>) => Promise<void>;

/** Query parameters as single strings (the registry API never repeats them). */
export function queryParam(request: FastifyRequest, key: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[key];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
