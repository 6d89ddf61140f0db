// The Ingress (spec.ingress.enabled with a host): /v2/ and /berth/ to the registry, /auth/token to the token
// issuer, TLS always on. Annotations: the class's defaults for large pushes (ingress-class.ts) first,
// cert-manager's next, the user's last — they override both.
import * as kplus from 'cdk8s-plus-28';
import type { ContainerRegistry } from '../../api/index.ts';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder } from '../context.ts';
import { ingressClassAnnotations } from '../ingress-class.ts';
import { ingressTls } from '../ingress-tls.ts';
import { ports, tokenRealmPath } from '../names.ts';
import { serviceConstruct } from './services.ts';

function annotationsOf(ingress: ContainerRegistry['spec']['ingress']): Record<string, string> {
  const annotations = ingressClassAnnotations(ingress.className, { tls: true });
  const issuerRef = ingress.tls.issuerRef;
  if (issuerRef !== undefined) {
    annotations[
      issuerRef.kind === 'ClusterIssuer' ? 'cert-manager.io/cluster-issuer' : 'cert-manager.io/issuer'
    ] = issuerRef.name;
    if (issuerRef.group !== 'cert-manager.io') {
      annotations['cert-manager.io/issuer-kind'] = issuerRef.kind;
      annotations['cert-manager.io/issuer-group'] = issuerRef.group;
    }
  }
  return Object.assign(annotations, ingress.annotations ?? {});
}

export const ingress: ChildBuilder = (ctx) => {
  const cr = ctx.registry;
  const spec = cr.spec.ingress;
  const host = spec.host;
  if (!spec.enabled || host === undefined) return undefined;
  return synthesizeChild(cr, 'ingress', (chart) => {
    const registry = serviceConstruct(ctx, chart, 'registry');
    const issuer = serviceConstruct(ctx, chart, 'token-issuer');
    const route = (path: string, svc: kplus.Service, port: number): kplus.IngressRule => ({
      host,
      path,
      pathType: kplus.HttpIngressPathType.PREFIX,
      backend: kplus.IngressBackend.fromService(svc, { port }),
    });
    const tlsSecret = kplus.Secret.fromSecretName(chart, 'tls-ref', ingressTls(cr).secretName);
    return new kplus.Ingress(chart, 'ingress', {
      metadata: { name: ctx.names.ingress, annotations: annotationsOf(spec) },
      ...(spec.className !== undefined ? { className: spec.className } : {}),
      rules: [
        route('/v2/', registry, ports.registry),
        route('/berth/', registry, ports.registry),
        route(tokenRealmPath, issuer, ports.issuer),
      ],
      tls: [{ hosts: [host], secret: tlsSecret }],
    });
  });
};
