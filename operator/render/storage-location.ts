// Where a registry's data lives, as the storage migration sees it: a location (driver, bucket or claim, root
// directory, endpoint), never credentials or tuning. Two storage sections with the same location hold the same
// data, so changing only tuning (redirect, delete, chunk size, a rotated credentials Secret) re-renders in
// place, while a new location starts a migration; and a spec reverted to the source is recognised as such.
import { selectedStorage, type StorageDriver, type StorageSpec } from '../api/index.ts';
import { contentHash } from '../runtime/hash.ts';

/** A secret-free name for a storage location (persisted in status.operation and status.lastMigration). */
export interface StorageIdentity {
  driver: StorageDriver;
  /** For people: "s3 bucket images at http://minio:9000, root berth". */
  description: string;
  /** Hash of the location only: equal hashes, same data. */
  hash: string;
}

/** An identity with the storage section it was taken from (to render it while spec.storage names another). */
export interface StorageSnapshot extends StorageIdentity {
  storage: StorageSpec;
}

/** Root directories name the same place with or without surrounding slashes. */
const root = (dir: string | undefined): string => (dir ?? '').replace(/^\/+|\/+$/g, '');

/** Endpoints compare as URLs (host case, a trailing slash); unset: the provider's public endpoint. */
function endpoint(url: string | undefined): string | null {
  if (url === undefined) return null;
  try {
    return new URL(url).href.replace(/\/+$/, '');
  } catch {
    return url;
  }
}

/** The location fields of a storage section (what decides where the bytes are). */
function location(storage: StorageSpec): { driver: StorageDriver; where: Record<string, string | null> } {
  const s = selectedStorage(storage);
  switch (s.driver) {
    case 'filesystem':
      // null: the claim the operator generates (<registry>-data); it never changes for a registry.
      return { driver: s.driver, where: { claim: s.config.claimName ?? null } };
    case 's3':
      return {
        driver: s.driver,
        where: {
          bucket: s.config.bucket,
          endpoint: endpoint(s.config.endpoint),
          root: root(s.config.rootDirectory),
        },
      };
    case 'gcs':
      return { driver: s.driver, where: { bucket: s.config.bucket, root: root(s.config.rootDirectory) } };
    case 'azure':
      return {
        driver: s.driver,
        where: {
          account: s.config.accountName,
          container: s.config.container,
          endpoint: endpoint(s.config.endpoint),
          root: root(s.config.rootDirectory),
        },
      };
  }
}

function describeLocation(driver: StorageDriver, where: Record<string, string | null>): string {
  const at = where['endpoint'] !== undefined && where['endpoint'] !== null ? ` at ${where['endpoint']}` : '';
  const under = where['root'] ? `, root ${where['root']}` : '';
  switch (driver) {
    case 'filesystem':
      return where['claim'] === null
        ? 'filesystem (generated claim)'
        : `filesystem (claim ${String(where['claim'])})`;
    case 's3':
    case 'gcs':
      return `${driver} bucket ${String(where['bucket'])}${at}${under}`;
    case 'azure':
      return `azure ${String(where['account'])}/${String(where['container'])}${at}${under}`;
  }
}

export function storageIdentity(storage: StorageSpec): StorageIdentity {
  const { driver, where } = location(storage);
  return {
    driver,
    description: describeLocation(driver, where),
    hash: contentHash('storage-location', driver, where),
  };
}

export function snapshot(storage: StorageSpec): StorageSnapshot {
  return { ...storageIdentity(storage), storage };
}

/** Only the identity fields (what status.lastMigration keeps). */
export const identityOf = ({ driver, description, hash }: StorageIdentity): StorageIdentity => ({
  driver,
  description,
  hash,
});

export function sameLocation(a: StorageSpec, b: StorageSpec | StorageIdentity): boolean {
  const hb = 'hash' in b ? b.hash : storageIdentity(b).hash;
  return storageIdentity(a).hash === hb;
}

/**
 * `spec` with the driver section of `from`: the registry-wide keys (delete, redirect, cache, upload purging)
 * follow the spec at once, the location stays where the data is.
 */
export function withLocation(spec: StorageSpec, from: StorageSpec): StorageSpec {
  const { filesystem: _f, s3: _s, gcs: _g, azure: _a, ...common } = spec;
  const { filesystem, s3, gcs, azure } = from;
  return {
    ...common,
    ...(filesystem !== undefined ? { filesystem } : {}),
    ...(s3 !== undefined ? { s3 } : {}),
    ...(gcs !== undefined ? { gcs } : {}),
    ...(azure !== undefined ? { azure } : {}),
  };
}
