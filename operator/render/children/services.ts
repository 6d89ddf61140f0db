// The Services in front of the registry (:5000) and the token issuer (:5001). The Ingress builder makes the
// same constructs in its own chart to point its backends at them.
import type { Chart } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-28';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder, RenderContext } from '../context.ts';
import { ports } from '../names.ts';
import { componentService, workloadsIn, type WorkloadComponent } from '../workload.ts';

/** A component's Service as a construct of `chart`. */
export function serviceConstruct(
  ctx: RenderContext,
  chart: Chart,
  component: WorkloadComponent,
): kplus.Service {
  const p =
    component === 'registry'
      ? { id: 'registry-service', name: ctx.names.registry, port: ports.registry }
      : { id: 'issuer-service', name: ctx.names.issuer, port: ports.issuer };
  return componentService(workloadsIn(ctx, chart), p.id, { component, name: p.name, port: p.port });
}

export const registryService: ChildBuilder = (ctx) =>
  synthesizeChild(ctx.registry, 'registry', (chart) => serviceConstruct(ctx, chart, 'registry'));

export const issuerService: ChildBuilder = (ctx) =>
  synthesizeChild(ctx.registry, 'token-issuer', (chart) => serviceConstruct(ctx, chart, 'token-issuer'));
