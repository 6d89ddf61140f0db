// The collector Job: `berth-registry garbage-collect` in a pod built from the registry's own pod template (the
// same image, config.yml, storage volume and credentials), so it sees exactly the storage and the config the
// fleet runs with (read-only during the run, which the collector's live-registry guard checks). A
// ReadWriteOnce claim can only be mounted on one node: the pod is then scheduled beside a registry pod. The
// JSON summary (the last stdout line) is also written to the termination message, where the operator reads it.
import { labelKeys, managedBy, paths, selectorLabels } from '../../render/names.ts';
import { controllerReference, type KubeObject } from '../../runtime/objects.ts';
import type { JobObserved } from './state.ts';

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

/** The Job's labels (never the registry's pod selector labels: the Service must not send it traffic). */
export function jobLabels(registry: string): Record<string, string> {
  return {
    [labelKeys.managedBy]: managedBy,
    [labelKeys.registry]: registry,
    [operationLabel]: 'garbage-collection',
  };
}

// sh: the collector's stdout (with --quiet only the JSON summary) goes to the log and its last line to the
// termination message; the collector's exit code is the container's.
const script = [
  'berth-registry garbage-collect --quiet "$@" > /tmp/gc-summary.json',
  'rc=$?',
  'cat /tmp/gc-summary.json',
  'tail -n 1 /tmp/gc-summary.json > /dev/termination-log',
  'exit $rc',
].join('; ');

export interface JobInput {
  registry: KubeObject;
  /** The registry's Deployment as stored (its pod template is the model). */
  deployment: KubeObject & { spec?: Json };
  name: string;
  dryRun: boolean;
  deleteUntagged: boolean;
  timeoutSeconds: number;
  /** The storage is a ReadWriteOnce claim: run beside a registry pod. */
  sameNodeAsRegistry: boolean;
}

export function collectorJob(input: JobInput): JobObject {
  const registry = input.registry.metadata.name;
  const template = (input.deployment.spec?.template ?? {}) as { spec?: Json };
  const podSpec = template.spec ?? {};
  const containers = (podSpec.containers ?? []) as Json[];
  const model = containers.find((c) => c.name === 'registry') ?? containers[0] ?? {};
  const flags = [
    ...(input.deleteUntagged ? ['--delete-untagged'] : []),
    ...(input.dryRun ? ['--dry-run'] : []),
  ];
  const container: Json = Object.fromEntries(
    Object.entries({
      name: 'garbage-collect',
      image: model.image,
      imagePullPolicy: model.imagePullPolicy,
      command: ['sh', '-c', script, 'garbage-collect', ...flags, paths.registryConfig],
      env: model.env,
      envFrom: model.envFrom,
      volumeMounts: model.volumeMounts,
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
    containers: [container],
    restartPolicy: 'Never',
    ...(affinity !== undefined ? { affinity } : {}),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.registry.metadata.namespace,
      labels: jobLabels(registry),
      ownerReferences: [controllerReference(input.registry)],
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: input.timeoutSeconds,
      ttlSecondsAfterFinished,
      template: { metadata: { labels: jobLabels(registry) }, spec },
    },
  };
}

/** The JSON object on the last line of a termination message or log, if any. */
export function parseSummary(text: string | undefined): JobObserved['summary'] {
  const line = text?.trim().split('\n').pop();
  if (line === undefined || !line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? (v as JobObserved['summary']) : undefined;
  } catch {
    return undefined;
  }
}

/** What the state machine needs to know about the Job (and, once finished, its pod's summary). */
export function observeJob(job: JobObject, pods: readonly PodObject[]): JobObserved {
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const complete = cond('Complete');
  const failed = cond('Failed');
  if (complete === undefined && failed === undefined) return { state: 'Running' };
  const terminated = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .find((c) => c.name === 'garbage-collect' && c.state?.terminated !== undefined)?.state?.terminated;
  const summary = parseSummary(terminated?.message);
  const observed: JobObserved = { state: complete !== undefined ? 'Succeeded' : 'Failed' };
  if (summary !== undefined) observed.summary = summary;
  if (failed !== undefined) {
    if (failed.reason === 'DeadlineExceeded') observed.deadlineExceeded = true;
    const exit = terminated?.exitCode !== undefined ? ` (exit code ${String(terminated.exitCode)})` : '';
    observed.message = `${failed.reason ?? 'Failed'}: ${failed.message ?? 'the Job failed'}${exit}`;
  }
  return observed;
}

export const jobPodSelector = (jobName: string) => `${jobNameLabel}=${jobName}`;
