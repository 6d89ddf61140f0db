// The config the migration Job hands `berth-registry migrate --to`: the registry's config.yml as it will be
// rendered for the target storage, except for the paths inside the Job's pod. There the source keeps the
// registry's own paths (its config.yml is mounted as is), so a target claim or GCS key file goes elsewhere.
// Like config.yml it holds no secret: S3/Azure keys reach the Job as environment variables (job.ts).
import type { ContainerRegistry, StorageSpec } from '../../api/index.ts';
import { buildRegistryConfig, toYaml } from '../../render/config.ts';
import { paths } from '../../render/names.ts';
import type { RegistryConfigInput } from '../../../registry/config/schema.ts';

/** The ConfigMap key the caller writes the target config under (in the registry's ConfigMap by default). */
export const targetConfigKey = 'migrate-target.yml';

/** Where the Job's pod finds the target's things. */
export const migrationPaths = {
  targetConfigDir: '/etc/berth/migrate',
  targetConfig: `/etc/berth/migrate/${targetConfigKey}`,
  /** A filesystem target's claim (the source's stays at paths.data). */
  targetData: '/var/lib/registry-target',
  /** A GCS target's key file (the source's stays at paths.gcsDir). */
  targetGcsDir: '/etc/berth/gcs-target',
} as const;

/** The target config as an object (validated by buildRegistryConfig with the registry's own schema). */
export function buildMigrationTargetConfig(cr: ContainerRegistry, target: StorageSpec): RegistryConfigInput {
  const config = buildRegistryConfig({ ...cr, spec: { ...cr.spec, storage: target } }, { readOnly: false });
  const storage = config.storage as Record<string, unknown>;
  const fs = storage['filesystem'] as { rootdirectory?: string } | undefined;
  if (fs !== undefined) storage['filesystem'] = { ...fs, rootdirectory: migrationPaths.targetData };
  const gcs = storage['gcs'] as { keyfile?: string } | undefined;
  if (gcs?.keyfile !== undefined) {
    const file = gcs.keyfile.slice(paths.gcsDir.length + 1);
    storage['gcs'] = { ...gcs, keyfile: `${migrationPaths.targetGcsDir}/${file}` };
  }
  return config;
}

/** migrate-target.yml, as the caller stores it under targetConfigKey. */
export function renderMigrationTargetConfig(cr: ContainerRegistry, target: StorageSpec, id: string): string {
  const { namespace, name } = cr.metadata;
  return toYaml(
    buildMigrationTargetConfig(cr, target),
    `migration target of ContainerRegistry ${namespace ?? ''}/${name} (${id}), written by berth-operator`,
  );
}
