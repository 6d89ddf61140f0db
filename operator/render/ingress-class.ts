// What the registry's Ingress needs from its controller so that a multi-GiB `docker push` (one PATCH streaming
// a whole layer) gets through: no body-size limit, no timeout shorter than the upload, no buffering of the
// body. Each controller spells that differently, so the defaults come from a table keyed by IngressClass name;
// a class not in the table gets no controller-specific annotations (someone else's annotations are at best
// ignored, at worst misread), only what spec.ingress.annotations gives.

/** ingress-nginx: no body limit, 15-minute proxy timeouts, the body streamed to the registry (not spooled). */
export const nginxIngressAnnotations: Readonly<Record<string, string>> = {
  'nginx.ingress.kubernetes.io/proxy-body-size': '0',
  'nginx.ingress.kubernetes.io/proxy-read-timeout': '900',
  'nginx.ingress.kubernetes.io/proxy-send-timeout': '900',
  'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
};

/** Traefik v3 (Kubernetes Ingress provider) with TLS on the Ingress. */
export const traefikTlsIngressAnnotations: Readonly<Record<string, string>> = {
  // spec.tls only picks the certificate: Traefik terminates TLS for the Ingress's router only with this.
  'traefik.ingress.kubernetes.io/router.tls': 'true',
  // Otherwise the TLS router also lands on the plain-HTTP entry point (web, :80), where it cannot be reached.
  'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure',
};

/** The Traefik static flag that lifts its 60s (v3 default) limit on reading a whole request. */
export const traefikReadTimeoutFlag = '--entryPoints.websecure.transport.respondingTimeouts.readTimeout=0';

interface IngressClassDefaults {
  /** The annotations, given whether the Ingress serves TLS. */
  annotations: (tls: boolean) => Readonly<Record<string, string>>;
  /** What the controller needs that an Ingress cannot ask for (static config), for the IngressReady message. */
  note?: string;
}

/** Per IngressClass name: ingress-nginx's default class and the Traefik Helm chart's. */
const ingressClassDefaults: Readonly<Record<string, IngressClassDefaults>> = {
  nginx: { annotations: () => nginxIngressAnnotations },
  traefik: {
    // Traefik has no body-size limit and streams bodies unless a Buffering middleware is added.
    annotations: (tls) => (tls ? traefikTlsIngressAnnotations : {}),
    note:
      'Traefik stops reading a request after its entry point readTimeout (60s by default), which an Ingress ' +
      `cannot change: start Traefik with ${traefikReadTimeoutFlag} so large pushes finish`,
  },
};

/**
 * The class whose defaults an Ingress without spec.ingress.className gets. The operator does not look up the
 * cluster's default IngressClass: unset has always meant nginx's annotations, and existing registries must
 * render unchanged.
 */
export const classWhenUnset = 'nginx';

function defaultsFor(className: string | undefined): IngressClassDefaults | undefined {
  const name = className ?? classWhenUnset;
  return Object.hasOwn(ingressClassDefaults, name) ? ingressClassDefaults[name] : undefined;
}

/** The IngressClass names that get default annotations. */
export function knownIngressClasses(): string[] {
  return Object.keys(ingressClassDefaults);
}

/** The controller-specific annotations an Ingress of this class gets before the user's own. */
export function ingressClassAnnotations(
  className: string | undefined,
  opts: { tls: boolean },
): Record<string, string> {
  return { ...defaultsFor(className)?.annotations(opts.tls) };
}

/** A word for the IngressReady condition about what the controller must be configured with, if anything. */
export function ingressClassNote(className: string | undefined): string | undefined {
  return defaultsFor(className)?.note;
}
