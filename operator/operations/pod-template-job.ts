// A Job whose pod is built from the registry Deployment's own pod template: the same image, service account,
// volumes, credentials and security context, so a maintenance command (garbage-collect, migrate) sees the
// storage and config the fleet runs with. Shared by the collector Job (garbage-collection/job.ts) and the
// migration Job (storage-migration/job.ts), which add their command, and any volumes, mounts and variables of
// their own. The pod never carries the registry's probes, init containers or pod selector labels; a
// ReadWriteOnce claim can only be mounted on one node, so such a pod is scheduled beside a registry pod. The
// command's JSON summary (its last stdout line) goes to the termination message, where the operator reads it.
import { labelKeys, managedBy, selectorLabels } from '../render/names.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import { controllerReference, type KubeObject } from '../runtime/objects.ts';

export const operationLabel = 'berth.dev/operation';
const jobNameLabel = 'batch.kubernetes.io/job-name';
/** Finished Jobs stay this long for inspection (kubectl logs), then the TTL controller removes them. */
const ttlSecondsAfterFinished = 86_400;

type Json = Record<string, unknown>;

export interface JobObject extends KubeObject {
  spec?: Json;
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    active?: number;
    failed?: number;
    succeeded?: number;
  };
}

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: {
      name: string;
      ready?: boolean;
      state?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
    }[];
  };
}

/** The Job's object name for a run of a registry. */
export function jobObjectName(registry: string, runJobName: string): string {
  return `${registry}-${runJobName}`;
}

/** The label selector of a Job's pods. */
export const jobPodSelector = (jobName: string) => `${jobNameLabel}=${jobName}`;

/** A Job's labels (never the registry's pod selector labels: the Service must not send it traffic). */
export function operationJobLabels(registry: string, operation: string): Record<string, string> {
  return {
    [labelKeys.managedBy]: managedBy,
    [labelKeys.registry]: registry,
    [operationLabel]: operation,
  };
}

/** The registry Deployment's pod spec and its registry container (the model of the Job's container). */
export function podTemplateModel(deployment: KubeObject & { spec?: Json }): { podSpec: Json; model: Json } {
  const template = (deployment.spec?.template ?? {}) as { spec?: Json };
  const podSpec = template.spec ?? {};
  const containers = (podSpec.containers ?? []) as Json[];
  const model = containers.find((c) => c.name === 'registry') ?? containers[0] ?? {};
  return { podSpec, model };
}

export interface PodTemplateJobInput {
  registry: KubeObject;
  /** The registry's Deployment as stored (its pod template is the model). */
  deployment: KubeObject & { spec?: Json };
  /** The Job object's name. */
  name: string;
  /** The berth.dev/operation label's value. */
  operation: string;
  container: {
    name: string;
    command: string[];
    /** Default (when absent): the registry container's; undefined: none. */
    env?: unknown[] | undefined;
    /** Default: the registry container's. */
    volumeMounts?: unknown[];
  };
  /** The pod's volumes. Default: the registry pod's. */
  volumes?: unknown[];
  /** Schedule the pod beside a registry pod (a ReadWriteOnce claim), instead of with the registry's affinity. */
  sameNodeAsRegistry: boolean;
  timeoutSeconds: number;
}

/** The Job: one try (backoffLimit 0), within `timeoutSeconds`, owned by the registry. */
export function podTemplateJob(input: PodTemplateJobInput): JobObject {
  const registry = input.registry.metadata.name;
  const { podSpec, model } = podTemplateModel(input.deployment);
  const container: Json = Object.fromEntries(
    Object.entries({
      name: input.container.name,
      image: model.image,
      imagePullPolicy: model.imagePullPolicy,
      command: input.container.command,
      env: 'env' in input.container ? input.container.env : model.env,
      envFrom: model.envFrom,
      volumeMounts: input.container.volumeMounts ?? model.volumeMounts,
      resources: model.resources,
      securityContext: model.securityContext,
      terminationMessagePolicy: 'FallbackToLogsOnError',
    }).filter(([, v]) => v !== undefined),
  );
  const affinity = input.sameNodeAsRegistry
    ? {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              labelSelector: { matchLabels: selectorLabels(registry, 'registry') },
              topologyKey: 'kubernetes.io/hostname',
            },
          ],
        },
      }
    : podSpec.affinity;
  const { initContainers: _init, ...modelSpec } = podSpec;
  const spec: Json = {
    ...modelSpec,
    ...(input.volumes !== undefined ? { volumes: input.volumes } : {}),
    containers: [container],
    restartPolicy: 'Never',
    ...(affinity !== undefined ? { affinity } : {}),
  };
  const labels = operationJobLabels(registry, input.operation);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.registry.metadata.namespace,
      labels,
      ownerReferences: [controllerReference(input.registry)],
    },
    spec: {
      // One try per Job: the operation's state machine decides whether another runs (and under which name).
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      ttlSecondsAfterFinished,
      template: { metadata: { labels: operationJobLabels(registry, input.operation) }, spec },
    },
  };
}

/** The value of the JSON object on the last line of a termination message or log (undefined: none). */
export function lastLineJson(text: string | undefined): unknown {
  const line = text?.trim().split('\n').pop();
  if (line === undefined || !line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** What an operation's state machine needs to know about its Job. */
export interface ObservedJob<Summary> {
  state: 'Running' | 'Succeeded' | 'Failed';
  /** Failed because activeDeadlineSeconds passed. */
  deadlineExceeded?: boolean;
  /** The command's summary (from the termination message), when it wrote one. */
  summary?: Summary;
  message?: string;
}

/** The Job's state and, once it finished, the summary its `containerName` container left, read by `parse`. */
export function observePodTemplateJob<Summary>(
  job: JobObject,
  pods: readonly PodObject[],
  containerName: string,
  parse: (message: string | undefined) => Summary | undefined,
): ObservedJob<Summary> {
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const complete = cond('Complete');
  const failed = cond('Failed');
  if (complete === undefined && failed === undefined) return { state: 'Running' };
  const terminated = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .find((c) => c.name === containerName && c.state?.terminated !== undefined)?.state?.terminated;
  const summary = parse(terminated?.message);
  const observed: ObservedJob<Summary> = { state: complete !== undefined ? 'Succeeded' : 'Failed' };
  if (summary !== undefined) observed.summary = summary;
  if (failed !== undefined) {
    if (failed.reason === 'DeadlineExceeded') observed.deadlineExceeded = true;
    const exit = terminated?.exitCode !== undefined ? ` (exit code ${String(terminated.exitCode)})` : '';
    observed.message = `${failed.reason ?? 'Failed'}: ${failed.message ?? 'the Job failed'}${exit}`;
  }
  return observed;
}

/** The pods of a finished Job (their termination message holds its summary); none are listed while it runs. */
export async function finishedJobPods(client: KubeClient, job: JobObject): Promise<PodObject[]> {
  const finished = job.status?.conditions?.some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (finished !== true) return [];
  const { items } = await client.list<PodObject>('v1', 'Pod', {
    namespace: job.metadata.namespace,
    labelSelector: jobPodSelector(job.metadata.name),
  });
  return items;
}
