// How operations talk to a registry they run: its config.yml as stored (what the pods run) and bearer tokens
// the operator signs itself with the registry's token key, for the issuer and service that config names.
// Read from the stored children, not the spec, so an operation can still reach the registry (e.g. to unwind)
// while the spec is invalid.
import { load } from 'js-yaml';
import { TokenSigner } from '../../registry/auth/token-signer.ts';
import type { AccessRequest } from '../../registry/auth/types.ts';
import { childNames, ports } from '../render/names.ts';
import { secretKeys } from '../render/material.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/objects.ts';

/** The registry an operation belongs to. */
export interface RegistryRef {
  namespace: string;
  name: string;
}

export interface StoredConfig {
  /** The first comment line (the renderer's header), kept when the config is written back. */
  header: string;
  config: {
    auth?: { token?: { issuer?: string; service?: string } };
    storage?: { maintenance?: { readonly?: { enabled?: boolean } } };
  };
}

type WithData = KubeObject & { data?: Record<string, string> };

export const configMapRef = (ref: RegistryRef) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  namespace: ref.namespace,
  name: childNames(ref.name).config,
});

/** The registry's config.yml as stored in its ConfigMap, undefined when absent. */
export async function storedConfig(client: KubeClient, ref: RegistryRef): Promise<StoredConfig | undefined> {
  const cm = await client.get<WithData>(configMapRef(ref));
  const text = cm?.data?.['config.yml'];
  if (text === undefined) return undefined;
  const config = (load(text) ?? {}) as StoredConfig['config'];
  const header = /^# (.*)\n/.exec(text)?.[1] ?? 'config.yml';
  return { header, config };
}

async function signer(client: KubeClient, ref: RegistryRef): Promise<TokenSigner> {
  const secret = await client.get<WithData>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: ref.namespace,
    name: childNames(ref.name).signingKeys,
  });
  const b64 = (k: string) => Buffer.from(secret?.data?.[k] ?? '', 'base64').toString('utf8');
  return TokenSigner.fromPem(b64(secretKeys.signingKey), b64(secretKeys.signingCert));
}

/** What the operator's reads of registry-wide figures need (usage, notification health): the catalog scope. */
export const catalogAccess: AccessRequest[] = [{ type: 'registry', name: 'catalog', actions: ['*'] }];

export type RegistryTokenSigner = (access: AccessRequest[], lifetimeSeconds?: number) => Promise<string>;

/** Signs tokens the registry's pods accept (its key, and the issuer and service its config names). */
export async function registryTokenSigner(
  client: KubeClient,
  ref: RegistryRef,
): Promise<RegistryTokenSigner> {
  const token = (await storedConfig(client, ref))?.config.auth?.token ?? {};
  const key = await signer(client, ref);
  return async (access, lifetimeSeconds = 300) =>
    (
      await key.signAccessToken({
        issuer: token.issuer ?? '',
        service: token.service ?? '',
        subject: 'berth-operator',
        access,
        lifetimeSeconds,
      })
    ).token;
}

/** A short-lived bearer token the registry's pods accept, granting exactly `access`. */
export async function signRegistryToken(
  client: KubeClient,
  ref: RegistryRef,
  access: AccessRequest[],
  lifetimeSeconds = 300,
): Promise<string> {
  return (await registryTokenSigner(client, ref))(access, lifetimeSeconds);
}

/** The registry's Service URL inside the cluster. */
export function registryServiceUrl(ref: RegistryRef): string {
  return `http://${childNames(ref.name).registry}.${ref.namespace}.svc:${String(ports.registry)}`;
}
