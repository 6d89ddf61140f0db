// The hash on each workload's pod template: everything its pods read at start (config, key material, the
// content of user Secrets), so a change that needs new pods rolls them and nothing else does.
import type { TokenServerConfigInput } from '../../registry/auth/token-server-config.ts';
import type { RenderInput } from './context.ts';
import { buildRegistryConfig } from './config.ts';
import { contentHash } from '../runtime/hash.ts';
import type { GeneratedMaterial } from './material.ts';
import { referencedSecretNames } from './secret-references.ts';

export function registryPodConfigHash(input: RenderInput): string {
  const cr = input.registry;
  return contentHash(
    'registry',
    // read-only mode switches live (the registry reloads config.yml): it must not roll the pods
    buildRegistryConfig(cr, { readOnly: false }),
    input.material.signing.certificatePem,
    input.material.httpSecret,
    referencedSecretNames(cr).map((s) => [s, input.referencedSecrets[s]?.hash ?? 'missing']),
  );
}

export function issuerPodConfigHash(config: TokenServerConfigInput, material: GeneratedMaterial): string {
  return contentHash('token-issuer', config, material.signing);
}
