// Proof of the fleet's mode: every running registry pod, by its own IP (not through the Service, which would
// answer for one pod only), is asked GET /berth/v1/maintenance with a short-lived token the operator signs
// with the registry's token key (scope registry:maintenance:*). A pod that does not answer is not confirmed.
// Everything is read from the stored children (the ConfigMap the pods run, the signing Secret), not from the
// spec, so a run can still be unwound while the spec is invalid.
import { toYaml } from '../../render/config.ts';
import { ports, selectorLabels } from '../../render/names.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import { configMapRef, signRegistryToken, storedConfig, type RegistryRef } from '../registry-access.ts';
import type { PodObject } from './job.ts';
import type { PodMode } from './state.ts';

export type { RegistryRef } from '../registry-access.ts';

const probeTimeoutMs = 3_000;

/** Every pod of the registry's Deployment, in any state. */
export async function listRegistryPods(client: KubeClient, ref: RegistryRef): Promise<PodObject[]> {
  const selector = Object.entries(selectorLabels(ref.name, 'registry'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const { items } = await client.list<PodObject>('v1', 'Pod', {
    namespace: ref.namespace,
    labelSelector: selector,
  });
  return items;
}

/** The registry's running pods (terminating ones left out: they no longer get traffic). */
export async function registryPods(client: KubeClient, ref: RegistryRef): Promise<PodObject[]> {
  return (await listRegistryPods(client, ref)).filter(
    (p) => p.metadata.deletionTimestamp === undefined && p.status?.phase === 'Running' && p.status.podIP,
  );
}

/** Each running registry pod's reported mode. */
export async function probeFleet(client: KubeClient, ref: RegistryRef): Promise<PodMode[]> {
  const pods = await registryPods(client, ref);
  if (pods.length === 0) return [];
  const bearer = await signRegistryToken(
    client,
    ref,
    [{ type: 'registry', name: 'maintenance', actions: ['*'] }],
    60,
  );
  return Promise.all(
    pods.map(async (pod): Promise<PodMode> => {
      const name = pod.metadata.name;
      const ip = pod.status?.podIP ?? '';
      const host = ip.includes(':') ? `[${ip}]` : ip;
      try {
        const res = await fetch(`http://${host}:${String(ports.registry)}/berth/v1/maintenance`, {
          headers: { authorization: `Bearer ${bearer}` },
          signal: AbortSignal.timeout(probeTimeoutMs),
        });
        if (!res.ok) return { name, error: `HTTP ${String(res.status)}` };
        const body = (await res.json()) as { readOnly?: unknown };
        if (typeof body.readOnly !== 'boolean') return { name, error: 'no readOnly in the answer' };
        return { name, readOnly: body.readOnly };
      } catch (err) {
        return { name, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** On a registry pod: the mode the operator last asked its kubelet to refresh the config for (see below). */
export const modeAnnotation = 'berth.dev/maintenance-mode';

/** Whether the registry's ConfigMap (as stored) already says `readOnly`. */
async function configSays(client: KubeClient, ref: RegistryRef, readOnly: boolean): Promise<boolean> {
  const stored = await storedConfig(client, ref);
  return (stored?.config.storage?.maintenance?.readonly?.enabled ?? false) === readOnly;
}

/**
 * Clears the read-only flag in the stored config.yml, when set. For unwinding a run while the registry
 * reconciler renders nothing (invalid spec, bad key material): the flag it rendered for the run would stay.
 * The result is what that reconciler renders once it can (same serialisation), so nothing flaps.
 */
export async function releaseReadOnly(client: KubeClient, ref: RegistryRef): Promise<boolean> {
  const stored = await storedConfig(client, ref);
  const flag = stored?.config.storage?.maintenance?.readonly;
  if (stored === undefined || flag?.enabled !== true) return false;
  flag.enabled = false;
  await client.mergePatch(configMapRef(ref), {
    data: { 'config.yml': toYaml(stored.config, stored.header) },
  });
  return true;
}

/**
 * Shortens the switch: the kubelet refreshes a ConfigMap volume at its periodic pod sync (a minute or more
 * apart), but at once when the pod object changes. So once the ConfigMap says the wanted mode, each pod that
 * does not report it yet gets an annotation naming the mode (metadata only: nothing restarts). Best effort:
 * without it the pods pick the change up at their next sync.
 */
export async function nudgePods(
  client: KubeClient,
  ref: RegistryRef,
  fleet: readonly PodMode[],
  readOnly: boolean,
  marker: string,
): Promise<void> {
  const late = fleet.filter((p) => p.readOnly !== readOnly);
  if (late.length === 0 || !(await configSays(client, ref, readOnly))) return;
  await Promise.all(
    late.map((p) =>
      client.mergePatch(
        { apiVersion: 'v1', kind: 'Pod', namespace: ref.namespace, name: p.name },
        { metadata: { annotations: { [modeAnnotation]: marker } } },
      ),
    ),
  );
}
