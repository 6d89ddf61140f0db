// What every child builder of a ContainerRegistry reads: the render input, plus what is derived from it once —
// child names, the selected storage driver, the image, both config files (built first, so a config the
// registry would refuse fails the render before any object exists) and the pod-template hashes.
import type { ContainerRegistry, SelectedStorage, StorageSpec } from '../api/index.ts';
import { selectedStorage } from '../api/index.ts';
import type { RegistryConfigInput } from '../../registry/config/schema.ts';
import type { TokenServerConfigInput } from '../../registry/auth/token-server-config.ts';
import type { KubeObject } from '../runtime/objects.ts';
import type { MergedAccessTokens } from './access-tokens.ts';
import { buildIssuerConfig, buildRegistryConfig } from './config.ts';
import type { GeneratedMaterial } from './material.ts';
import { childNames, type ChildNames } from './names.ts';
import { issuerPodConfigHash, registryPodConfigHash } from './pod-config-hash.ts';

/** A Secret the registry reads but the user owns: which keys it has and a hash of its content. */
export interface ReferencedSecret {
  keys: string[];
  hash: string;
}

export interface RenderInput {
  /** Parsed (defaults applied) and read from the API server (it has a uid). */
  registry: ContainerRegistry;
  material: GeneratedMaterial;
  /** The merged access tokens, when spec.auth.accessTokensFrom is set. */
  accessTokens?: MergedAccessTokens;
  /** User Secrets the pods use (storage credentials, notification headers), by name; missing → undefined. */
  referencedSecrets: Record<string, ReferencedSecret | undefined>;
  /** Image when spec.image is unset (the operator's BERTH_REGISTRY_IMAGE). */
  defaultImage: string;
  /** A maintenance operation (status.operation) holds the registry read-only, whatever spec.readOnly says. */
  maintenanceReadOnly?: boolean;
  /**
   * Where a storage migration running now moves the data (`registry.spec.storage` is then the source the
   * pods serve from): a filesystem target's generated claim is created ahead, for the migration Jobs.
   */
  migrationTarget?: StorageSpec;
}

export interface RenderContext extends RenderInput {
  names: ChildNames;
  storage: SelectedStorage;
  /** spec.image, or the default. */
  image: string;
  /** config.yml as the registry runs it now (spec.readOnly, or a maintenance operation's read-only mode). */
  registryConfig: RegistryConfigInput;
  issuerConfig: TokenServerConfigInput;
  /** Hashes of what each workload's pods read at start (see pod-config-hash.ts). */
  podConfigHash: { registry: string; issuer: string };
}

/** One child object of the registry, or undefined when the spec does not call for it. */
export type ChildBuilder = (ctx: RenderContext) => KubeObject | undefined;

export function renderContext(input: RenderInput): RenderContext {
  const cr = input.registry;
  const registryConfig = buildRegistryConfig(
    cr,
    input.maintenanceReadOnly === true ? { readOnly: true } : {},
  );
  const issuerConfig = buildIssuerConfig(cr);
  return {
    ...input,
    names: childNames(cr.metadata.name),
    storage: selectedStorage(cr.spec.storage),
    image: cr.spec.image ?? input.defaultImage,
    registryConfig,
    issuerConfig,
    podConfigHash: {
      registry: registryPodConfigHash(input),
      issuer: issuerPodConfigHash(issuerConfig, input.material),
    },
  };
}
