// An operation writes the status fields it owns by server-side apply under a field manager of its own: the
// registry reconciler's status apply owns other fields, so neither removes the other's, and a field the
// operation leaves out of its apply (e.g. a finished `operation`) is removed.
import type { KubeClient } from '../runtime/kube-client.ts';
import { setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { Condition, KubeObject } from '../runtime/objects.ts';

export async function applyStatusAs(
  client: KubeClient,
  obj: KubeObject,
  status: Record<string, unknown>,
  fieldManager: string,
  /**
   * Apply only if the object is still as read (a 409 Conflict otherwise). Starting an operation sets it:
   * two operations' controllers each seeing none running cannot both start one.
   */
  opts: { precondition?: boolean } = {},
): Promise<void> {
  const { apiVersion, kind, metadata } = obj;
  const path = await client.path(apiVersion, kind, metadata.namespace, metadata.name, 'status');
  const resourceVersion = opts.precondition === true ? metadata.resourceVersion : undefined;
  await client.request('PATCH', path, {
    body: {
      apiVersion,
      kind,
      metadata: {
        name: metadata.name,
        namespace: metadata.namespace,
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      status,
    },
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager, force: true },
  });
}

/**
 * The conditions an operation applies: `wanted`, with lastTransitionTime kept from the stored ones of the same
 * type. Only these types go into its apply, so the conditions other writers own stay theirs.
 */
export function operationConditions(
  obj: KubeObject & { status?: { conditions?: unknown } },
  wanted: readonly ConditionInput[],
  now: Date,
): Condition[] {
  const types = new Set(wanted.map((c) => c.type));
  const stored = Array.isArray(obj.status?.conditions) ? (obj.status.conditions as Condition[]) : [];
  return setConditions(
    stored.filter((c) => types.has(c.type)),
    wanted,
    obj.metadata.generation,
    now,
  );
}
