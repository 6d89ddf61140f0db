// Small kubectl helpers for the cluster tests: read objects as JSON and wait for the states a user waits for.
import { readFile } from 'node:fs/promises';
import type { RegistryScope } from '../../registry/auth/grants.ts';
import { createAccessToken } from './auth.ts';
import type { ExecOptions, ExecResult } from './exec.ts';

export interface Kubectl {
  kubectl(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string; name: string }[];
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface PodStatus {
  phase?: string;
  conditions?: Condition[];
  containerStatuses?: { name: string; ready: boolean; restartCount: number }[];
}

/** `kubectl get ... -o json` of one object, or undefined when it does not exist. */
export async function getObject<T extends KubeObject = KubeObject>(
  k: Kubectl,
  args: readonly string[],
): Promise<T | undefined> {
  const res = await k.kubectl(['get', ...args, '-o', 'json'], { check: false });
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')}: ${res.stderr}`);
  }
  return JSON.parse(res.stdout) as T;
}

/** `kubectl get ... -o json` of a list. */
export async function listObjects<T extends KubeObject = KubeObject>(
  k: Kubectl,
  args: readonly string[],
): Promise<T[]> {
  const res = await k.kubectl(['get', ...args, '-o', 'json']);
  return (JSON.parse(res.stdout) as { items: T[] }).items;
}

export function conditionOf(obj: KubeObject | undefined, type: string): Condition | undefined {
  const conditions = (obj?.status?.['conditions'] ?? []) as Condition[];
  return conditions.find((c) => c.type === type);
}

/** Pods matching `selector` that are Running, Ready and not being deleted. */
export async function readyPods(k: Kubectl, namespace: string, selector: string): Promise<KubeObject[]> {
  const pods = await listObjects(k, ['pods', '-n', namespace, '-l', selector]);
  return pods.filter((p) => {
    const status = p.status as PodStatus | undefined;
    return (
      p.metadata.deletionTimestamp === undefined &&
      status?.phase === 'Running' &&
      status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
    );
  });
}

export interface AccessTokenSecretOptions {
  namespace: string;
  /** The Secret's name; it gets the label berth.dev/access-tokens=<label> (spec.auth.accessTokensFrom). */
  secretName: string;
  label: string;
  user: string;
  scopes: readonly RegistryScope[];
  repositories: readonly string[];
  /** Where the access-token file is written first (`berth-registry access-token create --file`). */
  file: string;
}

/** Creates an access token with the real CLI, stores its file in a labelled Secret, returns the secret. */
export async function applyAccessTokenSecret(k: Kubectl, o: AccessTokenSecretOptions): Promise<string> {
  const secret = await createAccessToken(o.file, o.user, o.scopes, o.repositories);
  const manifest = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: o.secretName, namespace: o.namespace, labels: { 'berth.dev/access-tokens': o.label } },
    stringData: { 'tokens.yml': await readFile(o.file, 'utf8') },
  };
  await k.kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], {
    input: JSON.stringify(manifest),
  });
  return secret;
}
