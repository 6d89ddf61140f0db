// Proof of the fleet's mode: every running registry pod, by its own IP (not through the Service, which would
// answer for one pod only), is asked GET /berth/v1/maintenance with a short-lived token the operator signs
// with the registry's token key (scope registry:maintenance:*). A pod that does not answer is not confirmed.
// Everything is read from the stored children (the ConfigMap the pods run, the signing Secret), not from the
// spec, so a run can still be unwound while the spec is invalid.
import { load } from 'js-yaml';
import { TokenSigner } from '../../../registry/auth/token-signer.ts';
import { toYaml } from '../../render/config.ts';
import { childNames, ports, selectorLabels } from '../../render/names.ts';
import { secretKeys } from '../../render/material.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { PodObject } from './job.ts';
import type { PodMode } from './state.ts';

/** The registry a run belongs to. */
export interface RegistryRef {
  namespace: string;
  name: string;
}

const probeTimeoutMs = 3_000;

async function signer(client: KubeClient, ref: RegistryRef): Promise<TokenSigner> {
  const secret = await client.get<PodObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: ref.namespace,
    name: childNames(ref.name).signingKeys,
  });
  const b64 = (k: string) => Buffer.from(secret?.data?.[k] ?? '', 'base64').toString('utf8');
  return TokenSigner.fromPem(b64(secretKeys.signingKey), b64(secretKeys.signingCert));
}

interface StoredConfig {
  header: string;
  config: {
    auth?: { token?: { issuer?: string; service?: string } };
    storage?: { maintenance?: { readonly?: { enabled?: boolean } } };
  };
}

const configMapRef = (ref: RegistryRef) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  namespace: ref.namespace,
  name: childNames(ref.name).config,
});

/** The registry's config.yml as stored in its ConfigMap (what the pods run), undefined when absent. */
async function storedConfig(client: KubeClient, ref: RegistryRef): Promise<StoredConfig | undefined> {
  const cm = await client.get<PodObject & { data?: Record<string, string> }>(configMapRef(ref));
  const text = cm?.data?.['config.yml'];
  if (text === undefined) return undefined;
  const config = (load(text) ?? {}) as StoredConfig['config'];
  const header = /^# (.*)\n/.exec(text)?.[1] ?? 'config.yml';
  return { header, config };
}

/** The registry's running pods (terminating ones left out: they no longer get traffic). */
export async function registryPods(client: KubeClient, ref: RegistryRef): Promise<PodObject[]> {
  const selector = Object.entries(selectorLabels(ref.name, 'registry'))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const { items } = await client.list<PodObject>('v1', 'Pod', {
    namespace: ref.namespace,
    labelSelector: selector,
  });
  return items.filter(
    (p) => p.metadata.deletionTimestamp === undefined && p.status?.phase === 'Running' && p.status.podIP,
  );
}

/** Each running registry pod's reported mode. */
export async function probeFleet(client: KubeClient, ref: RegistryRef): Promise<PodMode[]> {
  const pods = await registryPods(client, ref);
  if (pods.length === 0) return [];
  // The token the pods accept: their config's issuer and service.
  const token = (await storedConfig(client, ref))?.config.auth?.token ?? {};
  const { token: bearer } = await (
    await signer(client, ref)
  ).signAccessToken({
    issuer: token.issuer ?? '',
    service: token.service ?? '',
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
