// The migration Job: `berth-registry migrate --from config.yml --to migrate-target.yml [--delete]` in a pod
// built from the registry's own pod template, as the collector Job is (same image, service account, volumes,
// security context). The registry's config.yml names the source (the reconciler renders the source until
// Switching) and comes with the source's claim or GCS key; the Job adds the target's config, claim or key file
// at paths of their own (target-config.ts). A ReadWriteOnce claim on either side can only be mounted on one
// node: the pod then runs beside a registry pod. The JSON summary (the last stdout line) goes to the
// termination message, where the operator reads it.
//
// Credentials: the registry takes S3/Azure keys from REGISTRY_* variables, which `migrate` would apply to both
// configs alike. So the Job drops the registry's REGISTRY_* variables and passes each side's keys under a
// prefix of its own, read by `--from-env-prefix` / `--to-env-prefix` (only given when a side has keys).
import { z } from 'zod';
import type { StorageSpec } from '../../api/index.ts';
import { registryEnv } from '../../render/config.ts';
import { childNames, paths } from '../../render/names.ts';
import type { KubeObject } from '../../runtime/objects.ts';
import {
  lastLineJson,
  observePodTemplateJob,
  operationJobLabels,
  podTemplateJob,
  podTemplateModel,
  type JobObject,
  type PodObject,
} from '../pod-template-job.ts';
import type { JobObserved, PassSummary } from './state.ts';
import { migrationPaths, targetConfigKey } from './target-config.ts';

export { jobObjectName, jobPodSelector } from '../pod-template-job.ts';

export const containerName = 'migrate';
const operation = 'storage-migration';
/** The kubelet keeps at most 4096 bytes of a termination message: a longer summary loses its error text. */
const maxMessageChars = 3000;

/** Prefixes of the variables that carry each side's storage keys (`REGISTRY_` replaced). */
export const envPrefixes = { from: 'MIGRATE_FROM_', to: 'MIGRATE_TO_' } as const;

type Json = Record<string, unknown>;
type EnvVar = { name: string; value?: string; valueFrom?: Json };

/** The Job's labels (never the registry's pod selector labels: the Service must not send it traffic). */
export function migrationJobLabels(registry: string): Record<string, string> {
  return operationJobLabels(registry, operation);
}

// sh: progress (stderr) goes to the log as it comes; the summary (stdout) to a file, then to the log and, as
// its last line, to the termination message, without the error text if the kubelet would cut it (the code
// stays). The exit code is migrate's. TMPDIR and TERMINATION_MESSAGE_PATH (unset in the pod) let a test run it.
const script = [
  'out="${TMPDIR:-/tmp}/migrate-summary.json"',
  'berth-registry migrate "$@" > "$out"',
  'rc=$?',
  'cat "$out"',
  'line=$(tail -n 1 "$out")',
  `if [ \${#line} -gt ${String(maxMessageChars)} ]; then line=$(printf '%s\\n' "$line" | sed 's/"error":".*","errorCode"/"error":"too long for the termination message: see the Job log","errorCode"/'); fi`,
  `printf '%s\\n' "$line" > "\${TERMINATION_MESSAGE_PATH:-/dev/termination-log}"`,
  'exit $rc',
].join('\n');

/** The script's text (for tests that run it with a stand-in berth-registry). */
export const jobScript = script;

export interface MigrationJobInput {
  registry: KubeObject;
  /** The registry's Deployment as stored: rendered for the source (its pod template is the model). */
  deployment: KubeObject & { spec?: Json };
  /** The Job object's name (jobObjectName(registry, action.jobName)). */
  name: string;
  source: StorageSpec;
  target: StorageSpec;
  /** --delete: the final pass removes target objects absent from the source. */
  deleteExtra: boolean;
  timeoutSeconds: number;
  /** The ConfigMap holding migrate-target.yml (default: the registry's own). */
  targetConfigMap?: string;
}

/** A ReadWriteOnce (or ReadWriteOncePod) claim: only pods on one node can mount it. */
const singleNode = (s: StorageSpec) =>
  s.filesystem !== undefined && s.filesystem.accessMode !== 'ReadWriteMany';

/** The variables carrying a side's S3/Azure keys from their Secret. */
export function credentialEnv(storage: StorageSpec, prefix: string): EnvVar[] {
  const named = (registryName: string, secret: string, key: string): EnvVar => ({
    name: `${prefix}${registryName.slice('REGISTRY_'.length)}`,
    valueFrom: { secretKeyRef: { name: secret, key } },
  });
  const s3 = storage.s3?.credentialsSecretRef;
  const azure = storage.azure?.credentialsSecretRef;
  return [
    ...(s3 !== undefined
      ? [
          named(registryEnv.s3AccessKey, s3.name, s3.accessKeyIdKey),
          named(registryEnv.s3SecretKey, s3.name, s3.secretAccessKeyKey),
        ]
      : []),
    ...(azure !== undefined ? [named(registryEnv.azureAccountKey, azure.name, azure.accountKeyKey)] : []),
  ];
}

/** The target's volumes and mounts besides its config: its claim, or its GCS key file. */
function targetVolumes(registry: string, target: StorageSpec): { volumes: Json[]; mounts: Json[] } {
  if (target.filesystem !== undefined) {
    const claimName = target.filesystem.claimName ?? childNames(registry).data;
    return {
      volumes: [{ name: 'migrate-target-data', persistentVolumeClaim: { claimName } }],
      mounts: [{ name: 'migrate-target-data', mountPath: migrationPaths.targetData }],
    };
  }
  const gcs = target.gcs?.credentialsSecretRef;
  if (gcs !== undefined) {
    return {
      volumes: [
        {
          name: 'migrate-target-gcs',
          secret: { secretName: gcs.name, items: [{ key: gcs.key, path: gcs.key }] },
        },
      ],
      mounts: [{ name: 'migrate-target-gcs', mountPath: migrationPaths.targetGcsDir, readOnly: true }],
    };
  }
  return { volumes: [], mounts: [] };
}

export function migrationJob(input: MigrationJobInput): JobObject {
  const registry = input.registry.metadata.name;
  const { podSpec, model } = podTemplateModel(input.deployment);
  const keys = [
    ...credentialEnv(input.source, envPrefixes.from),
    ...credentialEnv(input.target, envPrefixes.to),
  ];
  const env = [...((model.env ?? []) as EnvVar[]).filter((e) => !e.name.startsWith('REGISTRY_')), ...keys];
  const target = targetVolumes(registry, input.target);
  const configVolume = {
    name: 'migrate-target-config',
    configMap: {
      name: input.targetConfigMap ?? childNames(registry).config,
      items: [{ key: targetConfigKey, path: targetConfigKey }],
    },
  };
  const args = [
    ...(keys.length > 0 ? ['--from-env-prefix', envPrefixes.from, '--to-env-prefix', envPrefixes.to] : []),
    '--from',
    paths.registryConfig,
    '--to',
    migrationPaths.targetConfig,
    ...(input.deleteExtra ? ['--delete'] : []),
  ];
  return podTemplateJob({
    registry: input.registry,
    deployment: input.deployment,
    name: input.name,
    operation,
    container: {
      name: containerName,
      command: ['sh', '-c', script, 'migrate', ...args],
      env: env.length > 0 ? env : undefined,
      volumeMounts: [
        ...((model.volumeMounts ?? []) as Json[]),
        { name: configVolume.name, mountPath: migrationPaths.targetConfigDir, readOnly: true },
        ...target.mounts,
      ],
    },
    volumes: [...((podSpec.volumes ?? []) as Json[]), configVolume, ...target.volumes],
    sameNodeAsRegistry: singleNode(input.source) || singleNode(input.target),
    timeoutSeconds: input.timeoutSeconds,
  });
}

// The summary is untrusted text: each field is kept only when it has the type the contract says.
const counter = z.int().min(0).optional().catch(undefined);
const summarySchema = z.looseObject({
  objectsCopied: counter,
  bytesCopied: counter,
  objectsDeleted: counter,
  objectsVanished: counter,
  sourceObjects: counter,
  sourceBytes: counter,
  durationMs: counter,
  verified: z.looseObject({ objects: counter, bytes: counter }).optional().catch(undefined),
  error: z.string().optional().catch(undefined),
  errorCode: z.string().optional().catch(undefined),
});

/** The JSON object on the last line of a termination message or log, if any. */
export function parseMigrateSummary(text: string | undefined): PassSummary | undefined {
  const value = lastLineJson(text);
  if (value === undefined) return undefined;
  const parsed = summarySchema.safeParse(value);
  if (!parsed.success) return undefined;
  // Only the known fields, without the undefined ones (the state is persisted as JSON).
  const known: PassSummary = {};
  for (const [k, v] of Object.entries(parsed.data)) {
    if (v !== undefined && k in summarySchema.shape) (known as Record<string, unknown>)[k] = v;
  }
  if (known.verified !== undefined) {
    const { objects, bytes } = known.verified;
    known.verified = {
      ...(objects !== undefined ? { objects } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
    };
  }
  return known;
}

/** What the state machine needs to know about the Job (and, once finished, its pod's summary). */
export function observeMigrationJob(job: JobObject, pods: readonly PodObject[]): JobObserved {
  return observePodTemplateJob(job, pods, containerName, parseMigrateSummary);
}
