// The collector Job: `berth-registry garbage-collect` in a pod built from the registry's own pod template (the
// same image, config.yml, storage volume and credentials), so it sees exactly the storage and the config the
// fleet runs with (read-only during the run, which the collector's live-registry guard checks). A
// ReadWriteOnce claim can only be mounted on one node: the pod is then scheduled beside a registry pod. The
// JSON summary (the last stdout line) is also written to the termination message, where the operator reads it.
import { paths } from '../../render/names.ts';
import type { KubeObject } from '../../runtime/objects.ts';
import {
  lastLineJson,
  observePodTemplateJob,
  operationJobLabels,
  podTemplateJob,
  type JobObject,
  type PodObject,
} from '../pod-template-job.ts';
import type { JobObserved } from './state.ts';

export {
  jobObjectName,
  jobPodSelector,
  operationLabel,
  type JobObject,
  type PodObject,
} from '../pod-template-job.ts';

type Json = Record<string, unknown>;

const containerName = 'garbage-collect';

/** The Job's labels (never the registry's pod selector labels: the Service must not send it traffic). */
export function jobLabels(registry: string): Record<string, string> {
  return operationJobLabels(registry, 'garbage-collection');
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
  const flags = [
    ...(input.deleteUntagged ? ['--delete-untagged'] : []),
    ...(input.dryRun ? ['--dry-run'] : []),
  ];
  return podTemplateJob({
    registry: input.registry,
    deployment: input.deployment,
    name: input.name,
    operation: 'garbage-collection',
    container: {
      name: containerName,
      command: ['sh', '-c', script, 'garbage-collect', ...flags, paths.registryConfig],
    },
    sameNodeAsRegistry: input.sameNodeAsRegistry,
    timeoutSeconds: input.timeoutSeconds,
  });
}

/** The JSON object on the last line of a termination message or log, if any. */
export function parseSummary(text: string | undefined): JobObserved['summary'] {
  const v = lastLineJson(text);
  return typeof v === 'object' && v !== null ? (v as JobObserved['summary']) : undefined;
}

/** What the state machine needs to know about the Job (and, once finished, its pod's summary). */
export function observeJob(job: JobObject, pods: readonly PodObject[]): JobObserved {
  return observePodTemplateJob(job, pods, containerName, parseSummary);
}
