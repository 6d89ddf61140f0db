// Names and labels of everything a ContainerRegistry is made of. ContainerRegistry names are at most 40
// characters (the CRD enforces it), so `<name>-<suffix>` stays within the 63-character label limit.

export const managedBy = 'berth-operator';

export const labelKeys = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
  /** The ContainerRegistry a child belongs to (also on children without an ownerReference, e.g. a retained PVC). */
  registry: 'berth.dev/registry',
} as const;

export const annotationKeys = {
  /** On pod templates: hash of everything the pods read at start (config, secrets, certificates). */
  podConfigHash: 'berth.dev/config-hash',
  /** On generated Secrets: what generated them (never regenerated once present). */
  generated: 'berth.dev/generated',
  /** On the self-signed TLS Secret: the host name its certificate is for. */
  tlsHost: 'berth.dev/tls-host',
  /**
   * On the registry pod template: hash of the storage location its pods serve from, so the storage migration
   * can tell that every pod runs the target (or the source again) and not merely its reloaded config.
   */
  storageLocation: 'berth.dev/storage-location',
} as const;

export type Component = 'registry' | 'token-issuer' | 'storage' | 'config' | 'ingress' | 'credentials';

export interface ChildNames {
  registry: string;
  issuer: string;
  registryServiceAccount: string;
  issuerServiceAccount: string;
  config: string;
  signingKeys: string;
  httpSecret: string;
  accessTokens: string;
  data: string;
  ingress: string;
  selfSignedTls: string;
  /** The Secret cert-manager writes (issuerRef). */
  issuedTls: string;
  pdb: string;
}

export function childNames(registry: string): ChildNames {
  return {
    registry: `${registry}-registry`,
    issuer: `${registry}-token-issuer`,
    registryServiceAccount: `${registry}-registry`,
    issuerServiceAccount: `${registry}-token-issuer`,
    config: `${registry}-config`,
    signingKeys: `${registry}-token-signing`,
    httpSecret: `${registry}-http-secret`,
    accessTokens: `${registry}-access-tokens`,
    data: `${registry}-data`,
    ingress: registry,
    selfSignedTls: `${registry}-selfsigned-tls`,
    issuedTls: `${registry}-tls`,
    pdb: `${registry}-registry`,
  };
}

/** Labels every child carries; the selector of a component's pods is the subset without managed-by/part-of. */
export function commonLabels(registry: string, component: Component): Record<string, string> {
  return {
    [labelKeys.name]: component === 'token-issuer' ? 'berth-token-issuer' : 'berth-registry',
    [labelKeys.instance]: registry,
    [labelKeys.component]: component,
    [labelKeys.managedBy]: managedBy,
    [labelKeys.partOf]: 'berth',
    [labelKeys.registry]: registry,
  };
}

/** Pod selector labels of a component (immutable once a Deployment exists: never change these). */
export function selectorLabels(
  registry: string,
  component: 'registry' | 'token-issuer',
): Record<string, string> {
  return {
    [labelKeys.name]: component === 'token-issuer' ? 'berth-token-issuer' : 'berth-registry',
    [labelKeys.instance]: registry,
    [labelKeys.component]: component,
  };
}

/** Where things are inside the pods. */
export const paths = {
  configDir: '/etc/berth/config',
  registryConfig: '/etc/berth/config/config.yml',
  issuerConfig: '/etc/berth/config/token-server.yml',
  tokenCertDir: '/etc/berth/token-cert',
  tokenCert: '/etc/berth/token-cert/token.crt',
  signingDir: '/etc/berth/token-signing',
  signingKey: '/etc/berth/token-signing/token.key',
  signingCert: '/etc/berth/token-signing/token.crt',
  accessTokensDir: '/etc/berth/access-tokens',
  accessTokens: '/etc/berth/access-tokens/tokens.yml',
  gcsDir: '/etc/berth/gcs',
  data: '/var/lib/registry',
  tmp: '/tmp',
} as const;

export const ports = { registry: 5000, issuer: 5001 } as const;

export const tokenRealmPath = '/auth/token';
