// The registry's Deployment: `berth-registry serve` with config.yml and the token certificate mounted, the
// HTTP secret and storage credentials as REGISTRY_* environment variables (the registry applies them as
// config overrides), the data claim or the GCS key file when the storage needs them.
import { Duration, Size, type Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { finishChild, synthesize } from '../child.ts';
import { registryEnv } from '../config.ts';
import type { ChildBuilder, RenderContext } from '../context.ts';
import { secretKeys } from '../material.ts';
import { annotationKeys, paths, ports } from '../names.ts';
import { storageIdentity } from '../storage-location.ts';
import {
  componentDeployment,
  finishDeployment,
  httpProbe,
  rollOneByOne,
  secretEnv,
  workloadsIn,
} from '../workload.ts';
import { dataClaimName } from './data-claim.ts';
import { registryDefaultResources } from './registry-resources.ts';

/** Env var name for a notification header value (REGISTRY_NOTIFICATIONS_ENDPOINTS_<i>_HEADERS_<name>_0). */
function headerEnvName(index: number, header: string): string {
  return `REGISTRY_NOTIFICATIONS_ENDPOINTS_${String(index)}_HEADERS_${header.toUpperCase()}_0`;
}

/** What the registry reads from Secrets as environment variables (references are constructs of chart). */
function secretEnvVars(ctx: RenderContext, chart: Chart): Record<string, kplus.EnvValue> {
  const { storage } = ctx;
  const vars: Record<string, kplus.EnvValue> = {
    [registryEnv.httpSecret]: secretEnv(
      kplus.Secret.fromSecretName(chart, 'http-secret-ref', ctx.names.httpSecret),
      secretKeys.httpSecret,
    ),
  };
  if (storage.driver === 's3' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    const s = kplus.Secret.fromSecretName(chart, 's3-credentials', ref.name);
    vars[registryEnv.s3AccessKey] = secretEnv(s, ref.accessKeyIdKey);
    vars[registryEnv.s3SecretKey] = secretEnv(s, ref.secretAccessKeyKey);
  }
  if (storage.driver === 'azure' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    const s = kplus.Secret.fromSecretName(chart, 'azure-credentials', ref.name);
    vars[registryEnv.azureAccountKey] = secretEnv(s, ref.accountKeyKey);
  }
  (ctx.registry.spec.notifications?.endpoints ?? []).forEach((e, i) => {
    const ref = e.headersSecretRef;
    if (ref === undefined) return;
    const s = kplus.Secret.fromSecretName(chart, `headers-${String(i)}`, ref.name);
    for (const key of ctx.referencedSecrets[ref.name]?.keys ?? []) {
      if (!/^[A-Za-z0-9-]+$/.test(key)) continue; // not an HTTP header name
      vars[headerEnvName(i, key)] = secretEnv(s, key);
    }
  });
  return vars;
}

function build(ctx: RenderContext, chart: Chart): kplus.Deployment {
  const { names: n, storage } = ctx;
  const rwoSingle = storage.driver === 'filesystem' && storage.config.accessMode !== 'ReadWriteMany';
  const { deployment, mounts } = componentDeployment(workloadsIn(ctx, chart), {
    id: 'registry',
    component: 'registry',
    name: n.registry,
    replicas: ctx.registry.spec.replicas,
    podConfigHash: ctx.podConfigHash.registry,
    podAnnotations: { [annotationKeys.storageLocation]: storageIdentity(ctx.registry.spec.storage).hash },
    serviceAccountName: n.registryServiceAccount,
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(30),
    // One ReadWriteOnce volume cannot be attached to the old and the new pod at once.
    strategy: rwoSingle ? kplus.DeploymentStrategy.recreate() : rollOneByOne(),
    container: {
      name: 'registry',
      args: ['serve', paths.registryConfig],
      port: ports.registry,
      envVariables: secretEnvVars(ctx, chart),
      readiness: httpProbe('/debug/health', ports.registry, 10, 3),
      liveness: httpProbe('/debug/health', ports.registry, 20, 6),
      startup: httpProbe('/debug/health', ports.registry, 2, 60),
    },
  });
  const configIds = { volume: 'registry-config-volume', ref: 'config-ref' };
  mounts.configFile(paths.configDir, configIds, n.config, 'config.yml');
  const certIds = { volume: 'token-cert-volume', ref: 'signing-ref' };
  mounts.secret(paths.tokenCertDir, certIds, n.signingKeys, {
    name: 'token-cert',
    items: { [secretKeys.signingCert]: { path: 'token.crt' } },
  });
  mounts.tmp('registry-tmp', Size.gibibytes(1));
  const claimName = dataClaimName(ctx.registry);
  if (claimName !== undefined) {
    mounts.claim(paths.data, { volume: 'data-volume', ref: 'data-ref' }, claimName, { name: 'data' });
  }
  if (storage.driver === 'gcs' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    mounts.secret(paths.gcsDir, { volume: 'gcs-volume', ref: 'gcs-ref' }, ref.name, {
      name: 'gcs-credentials',
      items: { [ref.key]: { path: ref.key } },
    });
  }
  return deployment;
}

export const registryDeployment: ChildBuilder = (ctx) => {
  const deployment = synthesize(ctx.registry, (chart) => build(ctx, chart));
  finishDeployment(deployment, ctx.registry.spec, registryDefaultResources);
  return finishChild(ctx.registry, deployment, 'registry');
};
