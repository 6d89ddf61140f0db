// Status conditions (metav1.Condition semantics): one entry per type; `lastTransitionTime` moves only when the
// status flips (True/False/Unknown), not when the reason or message changes; every condition records the
// generation it was computed for. Status is written through the status subresource with server-side apply,
// and only when it differs from what is stored, so a steady state causes no writes at all.
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient } from './kube-client.ts';
import type { Condition, KubeObject, ObjectRef } from './objects.ts';
import { kubeTime } from './time.ts';

export const conditionTypes = { ready: 'Ready', progressing: 'Progressing', degraded: 'Degraded' } as const;

export interface ConditionInput {
  type: string;
  status: boolean | 'True' | 'False' | 'Unknown';
  /** UpperCamelCase, machine-readable. */
  reason: string;
  /** For humans. */
  message: string;
}

function statusOf(s: ConditionInput['status']): Condition['status'] {
  if (s === true) return 'True';
  if (s === false) return 'False';
  return s;
}

/**
 * The new condition list: `inputs` replace same-typed conditions; conditions of other types are kept (pass
 * only your own types in `existing` to get only yours back — with a list-map CRD, server-side apply then
 * merges them with other writers' conditions). `lastTransitionTime` is carried over unless the status changed.
 */
export function setConditions(
  existing: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: Date = new Date(),
): Condition[] {
  const byType = new Map((existing ?? []).map((c) => [c.type, c]));
  const stamp = kubeTime(now); // metav1.Time has second precision
  for (const input of inputs) {
    const status = statusOf(input.status);
    const prev = byType.get(input.type);
    const next: Condition = {
      type: input.type,
      status,
      reason: input.reason,
      message: input.message,
      lastTransitionTime: prev !== undefined && prev.status === status ? prev.lastTransitionTime : stamp,
    };
    if (observedGeneration !== undefined) next.observedGeneration = observedGeneration;
    byType.set(input.type, next);
  }
  // A stable order (the order types were first set) keeps the status byte-identical across reconciles.
  return [...byType.values()];
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** The status with undefined values removed, as it would look after a JSON round trip. */
function normalize(v: unknown): unknown {
  return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as unknown);
}

/**
 * True when `desired` is already what the object's status holds (for the fields in `desired`). `conditions`
 * is compared by type, only for the types in `desired`: other writers' conditions do not count.
 */
export function statusUpToDate(current: unknown, desired: Record<string, unknown>): boolean {
  const cur = (current ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(desired)) {
    if (k === 'conditions' && Array.isArray(v)) {
      const existing = Array.isArray(cur[k]) ? (cur[k] as Condition[]) : [];
      for (const c of v as Condition[]) {
        const e = existing.find((x) => x.type === c.type);
        if (!isDeepStrictEqual(normalize(e), normalize(c))) return false;
      }
      continue;
    }
    if (!isDeepStrictEqual(normalize(cur[k]), normalize(v))) return false;
  }
  return true;
}

/**
 * Writes `status` to the object's status subresource (server-side apply, the operator's field manager) unless
 * it is already there. Returns whether it wrote.
 */
export async function writeStatus(
  client: KubeClient,
  obj: KubeObject & { status?: unknown },
  status: Record<string, unknown>,
): Promise<boolean> {
  if (statusUpToDate(obj.status, status)) return false;
  const ref: ObjectRef = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace !== undefined) ref.namespace = obj.metadata.namespace;
  await client.applyStatus(ref, status);
  return true;
}
