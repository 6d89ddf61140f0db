// For tests of the controllers that write a ContainerRegistry's status from its registry (usage, notification
// health) against a real kube-apiserver: a control plane with Berth's CRDs and a namespace, and registries whose
// Ready condition the test sets itself (no registry reconciler, no kubelet).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { applyStatusAs } from '../../operator/operations/status-apply.ts';
import { KubeClient } from '../../operator/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { repoRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';

export const group = 'berth.dev/v1alpha1';

/** A control plane with the CRDs established and `namespace` created, and a client for it. */
export async function startControlPlaneWithCrds(
  namespace: string,
): Promise<{ cp: ControlPlane; client: KubeClient }> {
  const cp = await startControlPlane();
  const crdDir = path.join(repoRoot, 'crds');
  for (const f of (await readdir(crdDir)).filter((f) => f.endsWith('.yaml'))) {
    await cp.kubectl(['apply', '--server-side', '-f', path.join(crdDir, f)]);
  }
  await waitFor('the CRDs to be established', async () =>
    (await cp.kubectl(['get', 'containerregistries', '-A'], { check: false })).code === 0 ? true : undefined,
  );
  await cp.kubectl(['create', 'namespace', namespace]);
  return { cp, client: KubeClient.load(cp.kubeconfigPath) };
}

/** Applies a filesystem-backed ContainerRegistry `name` with `spec` added (the test's field manager). */
export function applyTestRegistry<T extends KubeObject>(
  client: KubeClient,
  namespace: string,
  name: string,
  spec: Record<string, unknown> = {},
): Promise<T> {
  return client.apply<T>(
    {
      apiVersion: group,
      kind: 'ContainerRegistry',
      metadata: { name, namespace },
      spec: { storage: { filesystem: { size: '1Gi' } }, ...spec },
    } as KubeObject,
    { force: true },
  );
}

/** Sets the Ready condition, under a field manager of the test's own. */
export async function setReady(client: KubeClient, obj: KubeObject, ready: boolean): Promise<void> {
  const condition = {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'Ready' : 'Progressing',
    message: 'set by the test',
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  await applyStatusAs(client, obj, { conditions: [condition] }, 'test-readiness');
}
