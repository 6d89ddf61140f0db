// The Secrets the operator writes: the generated key material (generated-secrets.ts), and the access tokens
// merged from the user's Secrets (access-tokens.ts). Plain API objects: cdk8s-plus's Secret only writes
// stringData.
import { ApiObject } from 'cdk8s';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder, RenderContext } from '../context.ts';
import {
  httpSecretSecret,
  selfSignedTlsSecret,
  signingSecret,
  type GeneratedSecret,
} from '../generated-secrets.ts';
import { selfSignedHost } from '../ingress-tls.ts';
import { b64 } from '../material.ts';
import type { Component } from '../names.ts';

function secret(ctx: RenderContext, id: string, obj: GeneratedSecret, component: Component) {
  return synthesizeChild(
    ctx.registry,
    component,
    (chart) =>
      new ApiObject(chart, id, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: obj.metadata.name,
          ...(obj.metadata.annotations ? { annotations: obj.metadata.annotations } : {}),
        },
        type: obj.type,
        data: obj.data,
      }),
  );
}

export const signingKeysSecret: ChildBuilder = (ctx) =>
  secret(ctx, 'signing', signingSecret(ctx.registry, ctx.material.signing), 'token-issuer');

export const registryHttpSecret: ChildBuilder = (ctx) =>
  secret(ctx, 'http-secret', httpSecretSecret(ctx.registry, ctx.material.httpSecret), 'registry');

/** The merged access-token file the token issuer mounts (spec.auth.accessTokensFrom). */
export const accessTokensSecret: ChildBuilder = (ctx) => {
  if (ctx.accessTokens === undefined) return undefined;
  const merged: GeneratedSecret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: ctx.names.accessTokens },
    type: 'Opaque',
    data: { 'tokens.yml': b64(ctx.accessTokens.file) },
  };
  return secret(ctx, 'access-tokens', merged, 'credentials');
};

/** The Ingress's certificate when neither a Secret nor a cert-manager issuer provides one. */
export const selfSignedCertificateSecret: ChildBuilder = (ctx) => {
  const tls = ctx.material.selfSignedTls;
  if (selfSignedHost(ctx.registry) === undefined || tls === undefined) return undefined;
  return secret(ctx, 'selfsigned-tls', selfSignedTlsSecret(ctx.registry, tls), 'ingress');
};
