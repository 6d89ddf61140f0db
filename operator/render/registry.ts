// The desired children of a ContainerRegistry, rendered in memory with cdk8s and cdk8s-plus-28. Pure: the same
// inputs always give the same objects (no clocks, no randomness — generated key material is an input), so an
// unchanged registry re-applies byte-identical objects and the API server writes nothing.
//
//   ServiceAccounts           <name>-registry, <name>-token-issuer (only the issuer may mount a token)
//   ConfigMap                 <name>-config: config.yml (registry), token-server.yml (issuer)
//   Secrets                   <name>-token-signing (key + certificate), <name>-http-secret,
//                             <name>-access-tokens (merged access-token files, when accessTokensFrom is set),
//                             <name>-selfsigned-tls (Ingress without secretName/issuerRef)
//   Deployments + Services    <name>-registry (:5000), <name>-token-issuer (:5001)
//   PersistentVolumeClaim     <name>-data (filesystem storage without claimName)
//   Ingress                   <name>: /v2/ and /berth/ → registry, /auth/token → issuer, TLS, the annotations
//                             its IngressClass needs for large pushes (ingress-class.ts)
//   PodDisruptionBudget       <name>-registry when replicas > 1
//
// Every child carries the registry's labels and a controller ownerReference — except the PVC under
// deletionPolicy Retain (the default), which must outlive the ContainerRegistry and so is only labelled.
// Each pod template carries a hash of what its pods read at start (config, key material, credentials), so a
// change that needs new pods rolls them; switching read-only mode does not (the registry reloads config.yml).
import { ApiObject, App, Chart, Duration, Size } from 'cdk8s';
import type { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import type { ContainerRegistry } from '../api/index.ts';
import { selectedStorage } from '../api/index.ts';
import type { KubeObject, OwnerReference } from '../runtime/objects.ts';
import type { MergedAccessTokens } from './access-tokens.ts';
import { buildIssuerConfig, buildRegistryConfig, registryEnv, registryEndpoint, toYaml } from './config.ts';
import { contentHash } from './hash.ts';
import { ingressClassAnnotations } from './ingress-class.ts';
import {
  b64,
  secretKeys,
  type GeneratedMaterial,
  type SigningMaterial,
  type TlsMaterial,
} from './material.ts';
import {
  annotationKeys,
  childNames,
  commonLabels,
  paths,
  ports,
  selectorLabels,
  tokenRealmPath,
  type ChildNames,
  type Component,
} from './names.ts';
import {
  componentDeployment,
  componentService,
  httpProbe,
  rollOneByOne,
  secretEnv,
  type WorkloadContext,
} from './workload.ts';

/** A Secret the registry reads but the user owns: which keys it has and a hash of its content. */
export interface ReferencedSecret {
  keys: string[];
  hash: string;
}

export interface RenderInput {
  /** Parsed (defaults applied) and read from the API server (it has a uid). */
  registry: ContainerRegistry;
  material: GeneratedMaterial;
  /** The merged access tokens, when spec.auth.accessTokensFrom is set. */
  accessTokens?: MergedAccessTokens;
  /** User Secrets the pods use (storage credentials, notification headers), by name; missing → undefined. */
  referencedSecrets: Record<string, ReferencedSecret | undefined>;
  /** Image when spec.image is unset (the operator's BERTH_REGISTRY_IMAGE). */
  defaultImage: string;
}

export interface RenderOutput {
  objects: KubeObject[];
  endpoint: string;
  /** Pod-template hashes. */
  registryHash: string;
  issuerHash: string;
  names: ChildNames;
}

const defaultRegistryResources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } };
const defaultIssuerResources = { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } };

/** Which TLS source the Ingress uses, and the Secret that holds (or will hold) its certificate. */
export function ingressTls(cr: ContainerRegistry): {
  source: 'secret' | 'issuer' | 'self-signed';
  secretName: string;
} {
  const n = childNames(cr.metadata.name);
  const tls = cr.spec.ingress.tls;
  if (tls.secretName !== undefined) return { source: 'secret', secretName: tls.secretName };
  if (tls.issuerRef !== undefined) return { source: 'issuer', secretName: n.issuedTls };
  return { source: 'self-signed', secretName: n.selfSignedTls };
}

/** Whether the registry needs a generated self-signed certificate (and for which host). */
export function selfSignedHost(cr: ContainerRegistry): string | undefined {
  const { ingress } = cr.spec;
  if (!ingress.enabled || ingress.host === undefined) return undefined;
  return ingressTls(cr).source === 'self-signed' ? ingress.host : undefined;
}

/** User Secrets the registry's pods read, by name (storage credentials, notification header values). */
export function referencedSecretNames(cr: ContainerRegistry): string[] {
  const names = new Set<string>();
  const storage = selectedStorage(cr.spec.storage);
  if (storage.driver !== 'filesystem' && storage.config.credentialsSecretRef !== undefined) {
    names.add(storage.config.credentialsSecretRef.name);
  }
  for (const e of cr.spec.notifications?.endpoints ?? []) {
    if (e.headersSecretRef !== undefined) names.add(e.headersSecretRef.name);
  }
  return [...names].sort();
}

// --- generated Secrets (also used on their own to create them exactly once)

/** A Secret whose content the operator generates. */
export type GeneratedSecret = KubeObject & { type: string; data: Record<string, string> };

/** A generated Secret of the registry, annotated with what it holds (and any further annotations). */
function generatedSecret(
  cr: ContainerRegistry,
  name: 'signingKeys' | 'httpSecret' | 'selfSignedTls',
  holds: string,
  type: string,
  data: Record<string, string>,
  annotations: Record<string, string> = {},
): GeneratedSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: childNames(cr.metadata.name)[name],
      namespace: cr.metadata.namespace,
      annotations: { [annotationKeys.generated]: holds, ...annotations },
    },
    type,
    data,
  };
}

export function signingSecret(cr: ContainerRegistry, m: SigningMaterial): GeneratedSecret {
  const data = {
    [secretKeys.signingKey]: b64(m.privateKeyPem),
    [secretKeys.signingCert]: b64(m.certificatePem),
  };
  return generatedSecret(cr, 'signingKeys', 'token-signing-keypair', 'Opaque', data);
}

export function httpSecretSecret(cr: ContainerRegistry, secret: string): GeneratedSecret {
  return generatedSecret(cr, 'httpSecret', 'http-secret', 'Opaque', { [secretKeys.httpSecret]: b64(secret) });
}

export function selfSignedTlsSecret(cr: ContainerRegistry, m: TlsMaterial): GeneratedSecret {
  const data = { [secretKeys.tlsCert]: b64(m.certificatePem), [secretKeys.tlsKey]: b64(m.privateKeyPem) };
  return generatedSecret(cr, 'selfSignedTls', 'self-signed-tls', 'kubernetes.io/tls', data, {
    [annotationKeys.tlsHost]: m.host,
  });
}

/** The controller ownerReference children get. */
export function ownerReferenceOf(cr: ContainerRegistry): OwnerReference {
  if (cr.metadata.uid === undefined)
    throw new Error('the ContainerRegistry has no uid (render an object read from the API server)');
  return {
    apiVersion: cr.apiVersion,
    kind: cr.kind,
    name: cr.metadata.name,
    uid: cr.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Labels, namespace and ownerReference, added to every rendered object. */
export function finishChild(
  cr: ContainerRegistry,
  obj: KubeObject,
  component: Component,
  opts: { owned?: boolean } = {},
): KubeObject {
  const labels = { ...commonLabels(cr.metadata.name, component), ...obj.metadata.labels };
  const metadata = { ...obj.metadata, namespace: cr.metadata.namespace, labels };
  if (opts.owned !== false) metadata.ownerReferences = [ownerReferenceOf(cr)];
  return { ...obj, metadata };
}

// --- the whole set

type Json = Record<string, unknown>;

function podSpecOf(deployment: Json): Json {
  const spec = deployment['spec'] as Json;
  const template = spec['template'] as Json;
  return template['spec'] as Json;
}

/** Env var name for a notification header value (REGISTRY_NOTIFICATIONS_ENDPOINTS_<i>_HEADERS_<name>_0). */
function headerEnvName(index: number, header: string): string {
  return `REGISTRY_NOTIFICATIONS_ENDPOINTS_${String(index)}_HEADERS_${header.toUpperCase()}_0`;
}

export function renderRegistry(input: RenderInput): RenderOutput {
  const cr = input.registry;
  const spec = cr.spec;
  const ns = cr.metadata.namespace;
  const name = cr.metadata.name;
  const n = childNames(name);
  const storage = selectedStorage(spec.storage);
  const image = spec.image ?? input.defaultImage;

  const registryConfig = buildRegistryConfig(cr);
  const issuerConfig = buildIssuerConfig(cr);

  const app = new App();
  const chart = new Chart(app, 'registry', { namespace: ns, disableResourceNameHashes: true });
  const components = new Map<ApiObject, Component>();
  const notOwned = new Set<ApiObject>();
  const track = <T extends Construct>(obj: T, component: Component): T => {
    components.set(ApiObject.of(obj), component);
    return obj;
  };

  // --- ServiceAccounts
  const registrySa = new kplus.ServiceAccount(chart, 'registry-sa', {
    metadata: { name: n.registryServiceAccount },
    automountToken: false,
  });
  track(registrySa, 'registry');
  const issuerSa = new kplus.ServiceAccount(chart, 'issuer-sa', {
    metadata: { name: n.issuerServiceAccount },
    automountToken: spec.auth.serviceAccountAccess.enabled,
  });
  track(issuerSa, 'token-issuer');

  // --- ConfigMap
  const configMap = new kplus.ConfigMap(chart, 'config', {
    metadata: { name: n.config },
    data: {
      'config.yml': toYaml(
        registryConfig,
        `config.yml of ContainerRegistry ${ns}/${name}, written by berth-operator`,
      ),
      'token-server.yml': toYaml(
        issuerConfig,
        `token issuer of ContainerRegistry ${ns}/${name}, written by berth-operator`,
      ),
    },
  });
  track(configMap, 'config');

  // --- Secrets (plain API objects: cdk8s-plus's Secret only writes stringData)
  const addSecret = (id: string, obj: GeneratedSecret, component: Component) =>
    track(
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
      component,
    );
  addSecret('signing', signingSecret(cr, input.material.signing), 'token-issuer');
  addSecret('http-secret', httpSecretSecret(cr, input.material.httpSecret), 'registry');
  if (input.accessTokens !== undefined) {
    addSecret(
      'access-tokens',
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: n.accessTokens },
        type: 'Opaque',
        data: { 'tokens.yml': b64(input.accessTokens.file) },
      },
      'credentials',
    );
  }
  const tlsHost = selfSignedHost(cr);
  if (tlsHost !== undefined && input.material.selfSignedTls !== undefined) {
    addSecret('selfsigned-tls', selfSignedTlsSecret(cr, input.material.selfSignedTls), 'ingress');
  }

  // --- storage
  let claimName: string | undefined;
  if (storage.driver === 'filesystem') {
    const fs = storage.config;
    claimName = fs.claimName ?? n.data;
    if (fs.claimName === undefined) {
      const pvc = new kplus.k8s.KubePersistentVolumeClaim(chart, 'data', {
        metadata: { name: n.data },
        spec: {
          accessModes: [fs.accessMode],
          resources: {
            requests: {
              storage:
                typeof fs.size === 'number'
                  ? kplus.k8s.Quantity.fromNumber(fs.size)
                  : kplus.k8s.Quantity.fromString(fs.size),
            },
          },
          ...(fs.storageClassName !== undefined ? { storageClassName: fs.storageClassName } : {}),
        },
      });
      track(pvc, 'storage');
      if (spec.deletionPolicy === 'Retain') notOwned.add(ApiObject.of(pvc));
    }
  }

  // --- registry Deployment
  const referenced = input.referencedSecrets;
  const registryEnvVars: Record<string, kplus.EnvValue> = {
    [registryEnv.httpSecret]: secretEnv(
      kplus.Secret.fromSecretName(chart, 'http-secret-ref', n.httpSecret),
      secretKeys.httpSecret,
    ),
  };
  if (storage.driver === 's3' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    const s = kplus.Secret.fromSecretName(chart, 's3-credentials', ref.name);
    registryEnvVars[registryEnv.s3AccessKey] = secretEnv(s, ref.accessKeyIdKey);
    registryEnvVars[registryEnv.s3SecretKey] = secretEnv(s, ref.secretAccessKeyKey);
  }
  if (storage.driver === 'azure' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    const s = kplus.Secret.fromSecretName(chart, 'azure-credentials', ref.name);
    registryEnvVars[registryEnv.azureAccountKey] = secretEnv(s, ref.accountKeyKey);
  }
  (spec.notifications?.endpoints ?? []).forEach((e, i) => {
    const ref = e.headersSecretRef;
    if (ref === undefined) return;
    const s = kplus.Secret.fromSecretName(chart, `headers-${String(i)}`, ref.name);
    for (const key of referenced[ref.name]?.keys ?? []) {
      if (!/^[A-Za-z0-9-]+$/.test(key)) continue; // not an HTTP header name
      registryEnvVars[headerEnvName(i, key)] = secretEnv(s, key);
    }
  });

  const registryHash = contentHash(
    'registry',
    // read-only mode switches live (the registry reloads config.yml): it must not roll the pods
    buildRegistryConfig(cr, { readOnly: false }),
    input.material.signing.certificatePem,
    input.material.httpSecret,
    referencedSecretNames(cr).map((s) => [s, referenced[s]?.hash ?? 'missing']),
  );
  const rwoSingle = storage.driver === 'filesystem' && storage.config.accessMode !== 'ReadWriteMany';
  const workloads: WorkloadContext = {
    chart,
    registryName: name,
    image,
    imagePullPolicy: spec.imagePullPolicy,
  };
  const { deployment: registry, mounts: registryMounts } = componentDeployment(workloads, {
    id: 'registry',
    component: 'registry',
    name: n.registry,
    replicas: spec.replicas,
    podConfigHash: registryHash,
    serviceAccountName: n.registryServiceAccount,
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(30),
    // One ReadWriteOnce volume cannot be attached to the old and the new pod at once.
    strategy: rwoSingle ? kplus.DeploymentStrategy.recreate() : rollOneByOne(),
    container: {
      name: 'registry',
      args: ['serve', paths.registryConfig],
      port: ports.registry,
      envVariables: registryEnvVars,
      readiness: httpProbe('/debug/health', ports.registry, 10, 3),
      liveness: httpProbe('/debug/health', ports.registry, 20, 6),
      startup: httpProbe('/debug/health', ports.registry, 2, 60),
    },
  });
  registryMounts.configMap(paths.configDir, 'registry-config-volume', configMap, {
    name: 'config',
    items: { 'config.yml': { path: 'config.yml' } },
  });
  registryMounts.secret(
    paths.tokenCertDir,
    { volume: 'token-cert-volume', ref: 'signing-ref' },
    n.signingKeys,
    {
      name: 'token-cert',
      items: { [secretKeys.signingCert]: { path: 'token.crt' } },
    },
  );
  registryMounts.tmp('registry-tmp', Size.gibibytes(1));
  if (claimName !== undefined) {
    registryMounts.claim(paths.data, { volume: 'data-volume', ref: 'data-ref' }, claimName, { name: 'data' });
  }
  if (storage.driver === 'gcs' && storage.config.credentialsSecretRef !== undefined) {
    const ref = storage.config.credentialsSecretRef;
    registryMounts.secret(paths.gcsDir, { volume: 'gcs-volume', ref: 'gcs-ref' }, ref.name, {
      name: 'gcs-credentials',
      items: { [ref.key]: { path: ref.key } },
    });
  }
  track(registry, 'registry');
  const registryService = componentService(workloads, 'registry-service', {
    component: 'registry',
    name: n.registry,
    port: ports.registry,
  });
  track(registryService, 'registry');

  // --- token issuer
  const issuerHash = contentHash('token-issuer', issuerConfig, input.material.signing);
  const { deployment: issuer, mounts: issuerMounts } = componentDeployment(workloads, {
    id: 'issuer',
    component: 'token-issuer',
    name: n.issuer,
    replicas: spec.replicas > 1 ? 2 : 1,
    podConfigHash: issuerHash,
    serviceAccountName: n.issuerServiceAccount,
    automountServiceAccountToken: spec.auth.serviceAccountAccess.enabled,
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
  issuerMounts.configMap(paths.configDir, 'issuer-config-volume', configMap, {
    name: 'config',
    items: { 'token-server.yml': { path: 'token-server.yml' } },
  });
  const signingIds = { volume: 'signing-volume', ref: 'signing-ref-issuer' };
  issuerMounts.secret(paths.signingDir, signingIds, n.signingKeys, {
    name: 'token-signing',
    defaultMode: 0o440,
  });
  if (input.accessTokens !== undefined) {
    const ids = { volume: 'access-tokens-volume', ref: 'access-tokens-ref' };
    issuerMounts.secret(paths.accessTokensDir, ids, n.accessTokens, {
      name: 'access-tokens',
      defaultMode: 0o440,
    });
  }
  issuerMounts.tmp('issuer-tmp', Size.mebibytes(64));
  track(issuer, 'token-issuer');
  const issuerService = componentService(workloads, 'issuer-service', {
    component: 'token-issuer',
    name: n.issuer,
    port: ports.issuer,
  });
  track(issuerService, 'token-issuer');

  // --- Ingress
  const { ingress } = spec;
  if (ingress.enabled && ingress.host !== undefined) {
    const tls = ingressTls(cr);
    // The class's defaults first (this Ingress always serves TLS, see tls below), cert-manager's next, the
    // user's last: they override both.
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
    Object.assign(annotations, ingress.annotations ?? {});
    const backend = (svc: kplus.Service, port: number) => kplus.IngressBackend.fromService(svc, { port });
    const ing = new kplus.Ingress(chart, 'ingress', {
      metadata: { name: n.ingress, annotations },
      ...(ingress.className !== undefined ? { className: ingress.className } : {}),
      rules: [
        {
          host: ingress.host,
          path: '/v2/',
          pathType: kplus.HttpIngressPathType.PREFIX,
          backend: backend(registryService, ports.registry),
        },
        {
          host: ingress.host,
          path: '/berth/',
          pathType: kplus.HttpIngressPathType.PREFIX,
          backend: backend(registryService, ports.registry),
        },
        {
          host: ingress.host,
          path: tokenRealmPath,
          pathType: kplus.HttpIngressPathType.PREFIX,
          backend: backend(issuerService, ports.issuer),
        },
      ],
      tls: [{ hosts: [ingress.host], secret: kplus.Secret.fromSecretName(chart, 'tls-ref', tls.secretName) }],
    });
    track(ing, 'ingress');
  }

  // --- PodDisruptionBudget
  if (spec.replicas > 1) {
    const pdb = new kplus.k8s.KubePodDisruptionBudget(chart, 'pdb', {
      metadata: { name: n.pdb },
      spec: {
        maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: selectorLabels(name, 'registry') },
      },
    });
    track(pdb, 'registry');
  }

  // --- synthesize, then the finishing touches cdk8s-plus has no words for
  const objects: KubeObject[] = [];
  for (const api of chart.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject)) {
    const component = components.get(api);
    if (component === undefined) continue; // references (fromSecretName, ...) synthesize nothing
    const json = api.toJson() as KubeObject & Json;
    if (json.kind === 'Deployment') {
      const podSpec = podSpecOf(json);
      const isRegistry = json.metadata.name === n.registry;
      const containers = podSpec['containers'] as Json[];
      for (const c of containers) {
        c['resources'] = spec.resources ?? (isRegistry ? defaultRegistryResources : defaultIssuerResources);
      }
      podSpec['enableServiceLinks'] = false;
      const podSecurityContext = podSpec['securityContext'] as Json;
      podSecurityContext['seccompProfile'] = { type: 'RuntimeDefault' };
      if (spec.nodeSelector !== undefined) podSpec['nodeSelector'] = spec.nodeSelector;
      if (spec.tolerations !== undefined) podSpec['tolerations'] = spec.tolerations;
      if (spec.affinity !== undefined) podSpec['affinity'] = spec.affinity;
      if (spec.imagePullSecrets !== undefined) podSpec['imagePullSecrets'] = spec.imagePullSecrets;
      (json['spec'] as Json)['revisionHistoryLimit'] = 3;
      // cdk8s-plus labels pods with its construct address even when it does not select on it.
      const template = (json['spec'] as Json)['template'] as {
        metadata?: { labels?: Record<string, string> };
      };
      if (template.metadata?.labels) delete template.metadata.labels['cdk8s.io/metadata.addr'];
    }
    objects.push(finishChild(cr, json, component, { owned: !notOwned.has(api) }));
  }
  // Apply order: what pods need first, then workloads, then the way in.
  const order = [
    'ServiceAccount',
    'Secret',
    'ConfigMap',
    'PersistentVolumeClaim',
    'Service',
    'Deployment',
    'PodDisruptionBudget',
    'Ingress',
  ];
  objects.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return { objects, endpoint: registryEndpoint(cr), registryHash, issuerHash, names: n };
}
