// An operation writes the status fields it owns by server-side apply under a field manager of its own: the
// registry reconciler's status apply owns other fields, so neither removes the other's, and a field the
// operation leaves out of its apply (e.g. a finished `operation`) is removed.
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/objects.ts';

export async function applyStatusAs(
  client: KubeClient,
  obj: KubeObject,
  status: Record<string, unknown>,
  fieldManager: string,
): Promise<void> {
  const { apiVersion, kind, metadata } = obj;
  const path = await client.path(apiVersion, kind, metadata.namespace, metadata.name, 'status');
  await client.request('PATCH', path, {
    body: { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace }, status },
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager, force: true },
  });
}
