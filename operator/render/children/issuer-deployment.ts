// The token issuer's Deployment: `berth-registry token-server` with token-server.yml, the signing keypair and
// (with spec.auth.accessTokensFrom) the merged access tokens mounted; two replicas once the registry has more
// than one.
import { Duration, Size, type Chart } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-28';
import { finishChild, synthesize } from '../child.ts';
import type { ChildBuilder, RenderContext } from '../context.ts';
import { paths, ports } from '../names.ts';
import { componentDeployment, finishDeployment, httpProbe, rollOneByOne, workloadsIn } from '../workload.ts';

const defaultResources = { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } };

/** Token issuer replicas: two once the registry is highly available, so a token never waits on one pod. */
export function issuerReplicas(registryReplicas: number): number {
  return registryReplicas > 1 ? 2 : 1;
}

function build(ctx: RenderContext, chart: Chart): kplus.Deployment {
  const { names: n } = ctx;
  const { serviceAccountAccess } = ctx.registry.spec.auth;
  const { deployment, mounts } = componentDeployment(workloadsIn(ctx, chart), {
    id: 'issuer',
    component: 'token-issuer',
    name: n.issuer,
    replicas: issuerReplicas(ctx.registry.spec.replicas),
    podConfigHash: ctx.podConfigHash.issuer,
    serviceAccountName: n.issuerServiceAccount,
    automountServiceAccountToken: serviceAccountAccess.enabled,
    terminationGracePeriod: Duration.seconds(15),
    strategy: rollOneByOne(),
    container: {
      name: 'token-issuer',
      args: ['token-server', paths.issuerConfig],
      port: ports.issuer,
      readiness: httpProbe('/healthz', ports.issuer, 10),
      liveness: httpProbe('/healthz', ports.issuer, 20, 3),
    },
  });
  const configIds = { volume: 'issuer-config-volume', ref: 'config-ref' };
  mounts.configFile(paths.configDir, configIds, n.config, 'token-server.yml');
  const signingIds = { volume: 'signing-volume', ref: 'signing-ref-issuer' };
  mounts.secret(paths.signingDir, signingIds, n.signingKeys, { name: 'token-signing', defaultMode: 0o440 });
  if (ctx.accessTokens !== undefined) {
    const ids = { volume: 'access-tokens-volume', ref: 'access-tokens-ref' };
    mounts.secret(paths.accessTokensDir, ids, n.accessTokens, { name: 'access-tokens', defaultMode: 0o440 });
  }
  mounts.tmp('issuer-tmp', Size.mebibytes(64));
  return deployment;
}

export const issuerDeployment: ChildBuilder = (ctx) => {
  const deployment = synthesize(ctx.registry, (chart) => build(ctx, chart));
  finishDeployment(deployment, ctx.registry.spec, defaultResources);
  return finishChild(ctx.registry, deployment, 'token-issuer');
};
