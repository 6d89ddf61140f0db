// What the controllers that copy a registry's own figures into its status share (storage usage, notification
// health): the registries from the informer, when each is next due (in memory: a new leader asks once at
// start, which is cheap), and a GET on the registry with a token they sign for `registry:catalog:*` only.
import type { Logger } from 'pino';
import { ConditionType } from '../api/index.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Condition, KubeObject } from '../runtime/objects.ts';
import { ContainerRegistryKind, type RegistryObject } from '../reconcile/registry-api.ts';
import {
  catalogAccess,
  registryServiceUrl,
  registryTokenSigner,
  type RegistryRef,
  type RegistryTokenSigner,
} from './registry-access.ts';

export interface RegistryPollOptions {
  /** The registry's base URL (default: its Service in the cluster); for tests outside a cluster. */
  registryUrl?: (ref: RegistryRef) => string;
  /** Signs the catalog token (default: with the registry's own key, from its Secret). */
  tokenSigner?: (client: KubeClient, ref: RegistryRef) => Promise<RegistryTokenSigner>;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

export interface PolledRegistry extends RegistryObject {
  status?: { conditions?: Condition[] } & Record<string, unknown>;
}

export abstract class RegistryPoller<R extends PolledRegistry, O extends RegistryPollOptions> {
  protected readonly client: KubeClient;
  private readonly registries: { get(key: string): KubeObject | undefined };
  protected readonly opts: O;
  /** When each registry is next due. */
  protected readonly due = new Map<string, number>();

  constructor(client: KubeClient, registries: { get(key: string): KubeObject | undefined }, opts: O) {
    this.client = client;
    this.registries = registries;
    this.opts = opts;
  }

  abstract reconcile(key: string, logger: Logger): Promise<ReconcileResult>;

  /** The registry behind `key`; undefined (and forgotten) when it is gone or going. */
  protected current(key: string): R | undefined {
    const raw = this.registries.get(key) as R | undefined;
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
      this.due.delete(key);
      return undefined;
    }
    return raw;
  }

  /** GET `path` on the registry, with a token for the catalog scope only. */
  protected async get(raw: R, path: string): Promise<Response> {
    const ref: RegistryRef = { namespace: raw.metadata.namespace ?? '', name: raw.metadata.name };
    const sign = await (this.opts.tokenSigner ?? registryTokenSigner)(this.client, ref);
    const base = (this.opts.registryUrl ?? registryServiceUrl)(ref);
    return fetch(new URL(path, base), {
      headers: { authorization: `Bearer ${await sign(catalogAccess)}`, accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
    });
  }
}

/** Not Ready: nothing to ask; the registry turning Ready is an event on its object and brings it back. */
export function registryReady(raw: PolledRegistry): boolean {
  return raw.status?.conditions?.find((c) => c.type === ConditionType.Ready)?.status === 'True';
}

/** The error for an answer that is not 2xx, with the start of its body. */
export async function failedAnswer(res: Response, path: string): Promise<Error> {
  const body = await res.text();
  return new Error(`GET ${path}: HTTP ${String(res.status)} ${body.slice(0, 300)}`);
}

/** Runs `controller` on every ContainerRegistry, under `name`. */
export function setupRegistryPoller<
  C extends { reconcile(key: string, logger: Logger): Promise<ReconcileResult> },
>(
  manager: Manager,
  name: string,
  make: (client: KubeClient, registries: { get(key: string): KubeObject | undefined }) => C,
): C {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const controller = make(manager.client, registries);
  manager.addController({
    name,
    primary: registries,
    reconcile: (key, { logger }) => controller.reconcile(key, logger),
    concurrency: 2,
  });
  return controller;
}
