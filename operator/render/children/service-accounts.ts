// The two ServiceAccounts: the registry's never mounts a token; the token issuer's does only when it must call
// TokenReview (spec.auth.serviceAccountAccess).
import * as kplus from 'cdk8s-plus-28';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder, RenderContext } from '../context.ts';
import type { WorkloadComponent } from '../workload.ts';

function serviceAccount(
  ctx: RenderContext,
  component: WorkloadComponent,
  id: string,
  name: string,
  automountToken: boolean,
) {
  return synthesizeChild(
    ctx.registry,
    component,
    (chart) => new kplus.ServiceAccount(chart, id, { metadata: { name }, automountToken }),
  );
}

export const registryServiceAccount: ChildBuilder = (ctx) =>
  serviceAccount(ctx, 'registry', 'registry-sa', ctx.names.registryServiceAccount, false);

export const issuerServiceAccount: ChildBuilder = (ctx) =>
  serviceAccount(
    ctx,
    'token-issuer',
    'issuer-sa',
    ctx.names.issuerServiceAccount,
    ctx.registry.spec.auth.serviceAccountAccess.enabled,
  );
