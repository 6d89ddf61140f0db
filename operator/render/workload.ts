// The building blocks of the two workloads a ContainerRegistry runs (the registry and the token issuer): a
// hardened Deployment for one component with its single container, the Service in front of it, and its volume
// mounts (Secrets and ConfigMaps read-only). Construct ids are passed in, so the objects (and their order) stay
// those the caller names.
import { Duration, Size, type Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { ContainerRegistry, ResourceRequirements } from '../api/index.ts';
import type { SynthesizedObject } from './child.ts';
import type { RenderContext } from './context.ts';
import { annotationKeys, commonLabels, paths, selectorLabels } from './names.ts';

/** The components that run pods. */
export type WorkloadComponent = 'registry' | 'token-issuer';

const runAs = 65532;

/** Pods and containers run as this non-root user and group. */
const nonRoot = { ensureNonRoot: true, user: runAs, group: runAs } as const;

function containerSecurity(): kplus.ContainerSecurityContextProps {
  return {
    ...nonRoot,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

function podSecurity(): kplus.PodSecurityContextProps {
  return {
    ...nonRoot,
    fsGroup: runAs,
    fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
  };
}

function pullPolicy(p: string): kplus.ImagePullPolicy {
  if (p === 'Always') return kplus.ImagePullPolicy.ALWAYS;
  if (p === 'Never') return kplus.ImagePullPolicy.NEVER;
  return kplus.ImagePullPolicy.IF_NOT_PRESENT;
}

/** One new pod at a time, and no old one goes before it is ready. */
export function rollOneByOne(): kplus.DeploymentStrategy {
  return kplus.DeploymentStrategy.rollingUpdate({
    maxSurge: kplus.PercentOrAbsolute.absolute(1),
    maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
  });
}

/** An environment variable's value from one key of a Secret. */
export function secretEnv(secret: kplus.ISecret, key: string): kplus.EnvValue {
  return kplus.EnvValue.fromSecretValue({ secret, key });
}

/** An HTTP GET probe on a container port (failureThreshold unset: cdk8s-plus's default, 3). */
export function httpProbe(
  path: string,
  port: number,
  periodSeconds: number,
  failureThreshold?: number,
): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, {
    port,
    periodSeconds: Duration.seconds(periodSeconds),
    ...(failureThreshold !== undefined ? { failureThreshold } : {}),
  });
}

/** What both workloads share: the chart they are rendered into and the ContainerRegistry's name and image. */
export interface WorkloadContext {
  chart: Chart;
  /** The ContainerRegistry's name (the labels and selectors carry it). */
  registryName: string;
  image: string;
  /** spec.imagePullPolicy. */
  imagePullPolicy: string;
}

/** The workload context of a registry's children built in `chart`. */
export function workloadsIn(ctx: RenderContext, chart: Chart): WorkloadContext {
  return {
    chart,
    registryName: ctx.registry.metadata.name,
    image: ctx.image,
    imagePullPolicy: ctx.registry.spec.imagePullPolicy,
  };
}

export interface ComponentDeploymentProps {
  /** Construct id of the Deployment; its ServiceAccount reference is `<id>-sa-ref`. */
  id: string;
  component: WorkloadComponent;
  /** The Deployment's name. */
  name: string;
  replicas: number;
  /** Hash of what the pods read at start (annotation on the pod template). */
  podConfigHash: string;
  /** More pod template annotations. */
  podAnnotations?: Record<string, string>;
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  terminationGracePeriod: Duration;
  strategy: kplus.DeploymentStrategy;
  /** The one container: it runs `berth-registry <args>` and serves HTTP on port. */
  container: {
    name: string;
    args: string[];
    port: number;
    envVariables?: Record<string, kplus.EnvValue>;
    readiness: kplus.Probe;
    liveness: kplus.Probe;
    startup?: kplus.Probe;
  };
}

/** Volumes mounted into one container; each call adds a volume (construct ids as given). */
export interface Mounts {
  /** One key of the registry's ConfigMap (by name) as the file of that name in dir, read-only. */
  configFile(dir: string, ids: { volume: string; ref: string }, configMapName: string, key: string): void;
  /** A Secret by name (its reference gets construct id `ids.ref`), read-only. */
  secret(
    dir: string,
    ids: { volume: string; ref: string },
    secretName: string,
    options: kplus.SecretVolumeOptions,
  ): void;
  /** A PersistentVolumeClaim by name (its reference gets construct id `ids.ref`), read-write. */
  claim(
    dir: string,
    ids: { volume: string; ref: string },
    claimName: string,
    options: kplus.PersistentVolumeClaimVolumeOptions,
  ): void;
  /** A size-limited emptyDir volume `tmp` at /tmp (the root filesystem is read-only). */
  tmp(volumeId: string, sizeLimit: Size): void;
}

/** Mounts into container; the volumes (and Secret/claim references) are constructs of chart. */
function mountsOf(chart: Chart, container: kplus.Container): Mounts {
  const readOnly = { readOnly: true };
  return {
    configFile(dir, ids, configMapName, key) {
      const configMap = kplus.ConfigMap.fromConfigMapName(chart, ids.ref, configMapName);
      const options = { name: 'config', items: { [key]: { path: key } } };
      container.mount(dir, kplus.Volume.fromConfigMap(chart, ids.volume, configMap, options), readOnly);
    },
    secret(dir, ids, secretName, options) {
      const secret = kplus.Secret.fromSecretName(chart, ids.ref, secretName);
      container.mount(dir, kplus.Volume.fromSecret(chart, ids.volume, secret, options), readOnly);
    },
    claim(dir, ids, claimName, options) {
      const claim = kplus.PersistentVolumeClaim.fromClaimName(chart, ids.ref, claimName);
      container.mount(dir, kplus.Volume.fromPersistentVolumeClaim(chart, ids.volume, claim, options));
    },
    tmp(volumeId, sizeLimit) {
      container.mount(paths.tmp, kplus.Volume.fromEmptyDir(chart, volumeId, 'tmp', { sizeLimit }));
    },
  };
}

/**
 * A Deployment of one component: non-root, read-only root filesystem, no capabilities, its pods labelled and
 * selected by the component's labels. Returns the Deployment, its single container and the way to mount
 * volumes into that container.
 */
export function componentDeployment(
  w: WorkloadContext,
  p: ComponentDeploymentProps,
): { deployment: kplus.Deployment; container: kplus.Container; mounts: Mounts } {
  const { chart } = w;
  const { envVariables, startup, ...c } = p.container;
  const deployment = new kplus.Deployment(chart, p.id, {
    metadata: { name: p.name },
    replicas: p.replicas,
    select: false,
    spread: false,
    podMetadata: { annotations: { [annotationKeys.podConfigHash]: p.podConfigHash, ...p.podAnnotations } },
    serviceAccount: kplus.ServiceAccount.fromServiceAccountName(
      chart,
      `${p.id}-sa-ref`,
      p.serviceAccountName,
    ),
    automountServiceAccountToken: p.automountServiceAccountToken,
    securityContext: podSecurity(),
    terminationGracePeriod: p.terminationGracePeriod,
    strategy: p.strategy,
    containers: [
      {
        name: c.name,
        image: w.image,
        imagePullPolicy: pullPolicy(w.imagePullPolicy),
        command: ['berth-registry'],
        args: c.args,
        ports: [{ number: c.port, name: 'http' }],
        ...(envVariables !== undefined ? { envVariables } : {}),
        securityContext: containerSecurity(),
        readiness: c.readiness,
        liveness: c.liveness,
        ...(startup !== undefined ? { startup } : {}),
      },
    ],
  });
  deployment.select(kplus.LabelSelector.of({ labels: selectorLabels(w.registryName, p.component) }));
  for (const [k, v] of Object.entries(commonLabels(w.registryName, p.component))) {
    deployment.podMetadata.addLabel(k, v);
  }
  const container = deployment.containers[0];
  if (container === undefined) throw new Error(`cdk8s-plus lost the ${p.component} container`);
  return { deployment, container, mounts: mountsOf(chart, container) };
}

/** The Service in front of a component's pods: port `http` to the same container port. */
export function componentService(
  w: WorkloadContext,
  id: string,
  p: { component: WorkloadComponent; name: string; port: number },
): kplus.Service {
  const service = new kplus.Service(w.chart, id, {
    metadata: { name: p.name },
    ports: [{ name: 'http', port: p.port, targetPort: p.port }],
  });
  for (const [k, v] of Object.entries(selectorLabels(w.registryName, p.component))) service.selectLabel(k, v);
  return service;
}

type Json = Record<string, unknown>;

function podSpecOf(deployment: Json): Json {
  const spec = deployment['spec'] as Json;
  const template = spec['template'] as Json;
  return template['spec'] as Json;
}

/**
 * What cdk8s-plus has no words for, added to a synthesized Deployment: the container's resources (the spec's,
 * or the component's defaults), no service-link variables, the RuntimeDefault seccomp profile for the pod,
 * the spec's scheduling and pull secrets, a short revision history; and the construct-address label
 * cdk8s-plus puts on pods (it does not select on it) taken off again.
 */
/** How long a registry or issuer pod keeps serving after it is told to go (see finishDeployment). */
export const preStopDelaySeconds = 5;

export function finishDeployment(
  deployment: SynthesizedObject,
  spec: ContainerRegistry['spec'],
  defaultResources: ResourceRequirements,
): void {
  const podSpec = podSpecOf(deployment);
  const containers = podSpec['containers'] as Json[];
  for (const c of containers) {
    c['resources'] = spec.resources ?? defaultResources;
    // Keep serving a few seconds after the pod is marked for deletion: the Ingress controller and kube-proxy
    // drop the endpoint asynchronously, and a server that closes at once answers the requests still routed
    // to it with 502s, or leaves them hanging on kept-alive connections, in every rollout. (The sleep
    // action needs no binary in the image; Kubernetes 1.30+.)
    c['lifecycle'] = { preStop: { sleep: { seconds: preStopDelaySeconds } } };
  }
  podSpec['enableServiceLinks'] = false;
  const podSecurityContext = podSpec['securityContext'] as Json;
  podSecurityContext['seccompProfile'] = { type: 'RuntimeDefault' };
  if (spec.nodeSelector !== undefined) podSpec['nodeSelector'] = spec.nodeSelector;
  if (spec.tolerations !== undefined) podSpec['tolerations'] = spec.tolerations;
  if (spec.affinity !== undefined) podSpec['affinity'] = spec.affinity;
  if (spec.imagePullSecrets !== undefined) podSpec['imagePullSecrets'] = spec.imagePullSecrets;
  (deployment['spec'] as Json)['revisionHistoryLimit'] = 3;
  const template = (deployment['spec'] as Json)['template'] as {
    metadata?: { labels?: Record<string, string> };
  };
  if (template.metadata?.labels) delete template.metadata.labels['cdk8s.io/metadata.addr'];
}
