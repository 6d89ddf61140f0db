// Proof of the fleet's mode: every running registry pod, by its own IP (not through the Service, which would
// answer for one pod only), is asked GET /berth/v1/maintenance with a short-lived token the operator signs
// with the registry's token key (scope registry:maintenance:*). A pod that does not answer is not confirmed.
import { load } from 'js-yaml';
import { TokenSigner } from '../../../registry/auth/token-signer.ts';
import type { ContainerRegistry } from '../../api/index.ts';
import { childNames, ports, selectorLabels } from '../../render/names.ts';
import { secretKeys } from '../../render/material.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { PodObject } from './job.ts';
import type { PodMode } from './state.ts';

const probeTimeoutMs = 3_000;

async function signer(client: KubeClient, cr: ContainerRegistry): Promise<TokenSigner> {
  const secret = await client.get<PodObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: cr.metadata.namespace,
    name: childNames(cr.metadata.name).signingKeys,
  });
  const b64 = (k: string) => Buffer.from(secret?.data?.[k] ?? '', 'base64').toString('utf8');
  return TokenSigner.fromPem(b64(secretKeys.signingKey), b64(secretKeys.signingCert));
}

/** The registry's running pods (terminating ones left out: they no longer get traffic). */
export async function registryPods(client: KubeClient, cr: ContainerRegistry): Promise<PodObject[]> {
  const selector = Object.entries(selectorLabels(cr.metadata.name, 'registry'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const { items } = await client.list<PodObject>('v1', 'Pod', {
    namespace: cr.metadata.namespace,
    labelSelector: selector,
  });
  return items.filter(
    (p) => p.metadata.deletionTimestamp === undefined && p.status?.phase === 'Running' && p.status.podIP,
  );
}

/** Each running registry pod's reported mode. */
export async function probeFleet(client: KubeClient, cr: ContainerRegistry): Promise<PodMode[]> {
  const pods = await registryPods(client, cr);
  if (pods.length === 0) return [];
  const { token } = await (
    await signer(client, cr)
  ).signAccessToken({
    issuer: cr.spec.auth.issuer,
    service: cr.spec.auth.service,
    subject: 'berth-operator',
    access: [{ type: 'registry', name: 'maintenance', actions: ['*'] }],
    lifetimeSeconds: 60,
  });
  return Promise.all(
    pods.map(async (pod): Promise<PodMode> => {
      const name = pod.metadata.name;
      const ip = pod.status?.podIP ?? '';
      const host = ip.includes(':') ? `[${ip}]` : ip;
      try {
        const res = await fetch(`http://${host}:${String(ports.registry)}/berth/v1/maintenance`, {
          headers: { authorization: `Bearer ${token}` },
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
async function configSays(client: KubeClient, cr: ContainerRegistry, readOnly: boolean): Promise<boolean> {
  const cm = await client.get<PodObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: cr.metadata.namespace,
    name: childNames(cr.metadata.name).config,
  });
  const config = load(cm?.data?.['config.yml'] ?? '') as {
    storage?: { maintenance?: { readonly?: { enabled?: boolean } } };
  } | null;
  return (config?.storage?.maintenance?.readonly?.enabled ?? false) === readOnly;
}

/**
 * Shortens the switch: the kubelet refreshes a ConfigMap volume at its periodic pod sync (a minute or more
 * apart), but at once when the pod object changes. So once the ConfigMap says the wanted mode, each pod that
 * does not report it yet gets an annotation naming the mode (metadata only: nothing restarts). Best effort:
 * without it the pods pick the change up at their next sync.
 */
export async function nudgePods(
  client: KubeClient,
  cr: ContainerRegistry,
  fleet: readonly PodMode[],
  readOnly: boolean,
  marker: string,
): Promise<void> {
  const late = fleet.filter((p) => p.readOnly !== readOnly);
  if (late.length === 0 || !(await configSays(client, cr, readOnly))) return;
  await Promise.all(
    late.map((p) =>
      client.mergePatch(
        { apiVersion: 'v1', kind: 'Pod', namespace: cr.metadata.namespace, name: p.name },
        { metadata: { annotations: { [modeAnnotation]: marker } } },
      ),
    ),
  );
}
