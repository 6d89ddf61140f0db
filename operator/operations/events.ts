// Events on the objects operations act for (a ContainerRegistry, a CleanupPolicy): what `kubectl describe`
// shows. Best effort for callers: an Event that cannot be written never fails an operation.
import { managedBy } from '../render/names.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/objects.ts';

export interface EventInput {
  warning: boolean;
  reason: string;
  message: string;
}

export async function recordEvent(client: KubeClient, about: KubeObject, e: EventInput): Promise<void> {
  const now = new Date().toISOString();
  await client.create({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      generateName: `${about.metadata.name}.`,
      namespace: about.metadata.namespace ?? 'default',
      name: '',
    },
    involvedObject: {
      apiVersion: about.apiVersion,
      kind: about.kind,
      name: about.metadata.name,
      namespace: about.metadata.namespace,
      uid: about.metadata.uid,
    },
    reason: e.reason,
    message: e.message.slice(0, 1024),
    type: e.warning ? 'Warning' : 'Normal',
    source: { component: managedBy },
    reportingComponent: managedBy,
    reportingInstance: process.env.HOSTNAME ?? managedBy,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  } as KubeObject);
}
