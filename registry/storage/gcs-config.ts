// Distribution's `storage.gcs` parameters (already type-checked by the config schema) as GcsDriver options.
// The endpoint of an emulator comes from STORAGE_EMULATOR_HOST, as with Distribution (see gcs.ts).
import type { RegistryConfig } from '../config/schema.ts';
import type { GcsDriverOptions } from './gcs.ts';

export type GcsConfig = NonNullable<RegistryConfig['storage']['gcs']>;

export function gcsOptionsFromConfig(gcs: GcsConfig, redirect: { disable: boolean }): GcsDriverOptions {
  const options: GcsDriverOptions = { bucket: gcs.bucket, redirect: !redirect.disable };
  if (gcs.keyfile !== undefined) options.keyFile = gcs.keyfile;
  if (gcs.credentials !== undefined) options.credentials = gcs.credentials;
  if (gcs.rootdirectory !== undefined) options.rootDirectory = gcs.rootdirectory;
  if (gcs.chunksize !== undefined) options.chunkSize = gcs.chunksize;
  // `disablekeepalives` is accepted for Distribution configs; the client library manages its own connections.
  return options;
}
