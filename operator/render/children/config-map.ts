// The ConfigMap both workloads mount: config.yml for the registry, token-server.yml for the token issuer.
// Neither holds a secret (config.ts).
import * as kplus from 'cdk8s-plus-28';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder } from '../context.ts';
import { toYaml } from '../config.ts';

export const configMap: ChildBuilder = (ctx) => {
  const { namespace, name } = ctx.registry.metadata;
  const of = `ContainerRegistry ${namespace}/${name}, written by berth-operator`;
  return synthesizeChild(
    ctx.registry,
    'config',
    (chart) =>
      new kplus.ConfigMap(chart, 'config', {
        metadata: { name: ctx.names.config },
        data: {
          'config.yml': toYaml(ctx.registryConfig, `config.yml of ${of}`),
          'token-server.yml': toYaml(ctx.issuerConfig, `token issuer of ${of}`),
        },
      }),
  );
};
