// The registry Ingress's annotations per IngressClass: nginx (and no class) keep the nginx settings, traefik
// gets its TLS router annotations, any other class nothing controller-specific; the user's annotations win.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mustParseContainerRegistry } from '../../operator/api/index.ts';
import {
  ingressClassAnnotations,
  ingressClassNote,
  knownIngressClasses,
  traefikReadTimeoutFlag,
} from '../../operator/render/ingress-class.ts';
import { renderRegistry } from '../../operator/render/registry.ts';

const material = { signing: { privateKeyPem: 'key', certificatePem: 'cert' }, httpSecret: 'secret' };

const nginx = {
  'nginx.ingress.kubernetes.io/proxy-body-size': '0',
  'nginx.ingress.kubernetes.io/proxy-read-timeout': '900',
  'nginx.ingress.kubernetes.io/proxy-send-timeout': '900',
  'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
};
const traefik = {
  'traefik.ingress.kubernetes.io/router.tls': 'true',
  'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure',
};

/** The rendered Ingress's annotations for spec.ingress (enabled, with a host, plus `ingress`). */
function annotationsOf(ingress: Record<string, unknown>): Record<string, string> | undefined {
  const registry = mustParseContainerRegistry({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team', uid: 'u-1', generation: 1 },
    spec: {
      storage: { s3: { bucket: 'registry' } },
      ingress: { enabled: true, host: 'reg.example.test', tls: { secretName: 'reg-tls' }, ...ingress },
    },
  });
  const out = renderRegistry({ registry, material, referencedSecrets: {}, defaultImage: 'berth:x' });
  const ing = out.objects.filter((o) => o.kind === 'Ingress');
  assert.equal(ing.length, 1);
  return ing[0]?.metadata.annotations;
}

describe('Ingress annotations by IngressClass', () => {
  it('nginx: the nginx settings large pushes need', () => {
    assert.deepEqual(annotationsOf({ className: 'nginx' }), nginx);
  });

  it('no className: the same nginx settings as before', () => {
    assert.deepEqual(annotationsOf({}), nginx);
  });

  it('traefik: TLS on the router, on the websecure entry point, and nothing for nginx', () => {
    assert.deepEqual(annotationsOf({ className: 'traefik' }), traefik);
  });

  it("any other class: no controller-specific annotations (none at all without the user's)", () => {
    for (const className of ['haproxy', 'nginx-internal', 'NGINX', 'constructor']) {
      assert.equal(annotationsOf({ className }), undefined, className);
    }
  });

  it("the user's annotations override the defaults and add to them", () => {
    assert.deepEqual(
      annotationsOf({
        className: 'nginx',
        annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '10g', 'example.com/team': 'a' },
      }),
      { ...nginx, 'nginx.ingress.kubernetes.io/proxy-body-size': '10g', 'example.com/team': 'a' },
    );
    assert.deepEqual(
      annotationsOf({
        className: 'traefik',
        annotations: {
          'traefik.ingress.kubernetes.io/router.entrypoints': 'https',
          'traefik.ingress.kubernetes.io/router.middlewares': 'team-auth@kubernetescrd',
        },
      }),
      {
        'traefik.ingress.kubernetes.io/router.tls': 'true',
        'traefik.ingress.kubernetes.io/router.entrypoints': 'https',
        'traefik.ingress.kubernetes.io/router.middlewares': 'team-auth@kubernetescrd',
      },
    );
    assert.deepEqual(
      annotationsOf({ className: 'haproxy', annotations: { 'haproxy.org/timeout-server': '15m' } }),
      {
        'haproxy.org/timeout-server': '15m',
      },
    );
  });

  it("cert-manager's issuer annotation joins the class defaults, and the user's overrides it", () => {
    const got = annotationsOf({
      className: 'traefik',
      tls: { issuerRef: { name: 'letsencrypt' } },
      annotations: { 'cert-manager.io/cluster-issuer': 'other' },
    });
    assert.deepEqual(got, { ...traefik, 'cert-manager.io/cluster-issuer': 'other' });
    assert.deepEqual(annotationsOf({ tls: { issuerRef: { name: 'letsencrypt' } } }), {
      ...nginx,
      'cert-manager.io/cluster-issuer': 'letsencrypt',
    });
  });

  it('without TLS, traefik needs nothing (Traefik has no body limit and does not buffer)', () => {
    assert.deepEqual(ingressClassAnnotations('traefik', { tls: false }), {});
    assert.deepEqual(ingressClassAnnotations('traefik', { tls: true }), traefik);
    assert.deepEqual(ingressClassAnnotations(undefined, { tls: false }), nginx);
  });

  it('returns a fresh object each time (callers add to it)', () => {
    const a = ingressClassAnnotations('nginx', { tls: true });
    a['x'] = 'y';
    assert.deepEqual(ingressClassAnnotations('nginx', { tls: true }), nginx);
  });

  it("only traefik has a note, naming the flag for its entry point's read timeout", () => {
    assert.deepEqual(knownIngressClasses().sort(), ['nginx', 'traefik']);
    assert.equal(
      traefikReadTimeoutFlag,
      '--entryPoints.websecure.transport.respondingTimeouts.readTimeout=0',
    );
    assert.match(
      ingressClassNote('traefik') ?? '',
      /--entryPoints\.websecure\.transport\.respondingTimeouts\.readTimeout=0/,
    );
    assert.equal(ingressClassNote('nginx'), undefined);
    assert.equal(ingressClassNote(undefined), undefined);
    assert.equal(ingressClassNote('haproxy'), undefined);
  });
});
