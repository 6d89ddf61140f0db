// The key material a registry needs (token signing keypair, HTTP secret, a self-signed certificate when the
// Ingress has no other source) lives in Secrets the operator generates exactly once: read live (a possibly
// stale cache must never answer "does it exist?"), and created with a plain create that fails when someone
// else created it first — then theirs is used. Throws MaterialError when a Secret holds something unusable.
import type { Logger } from 'pino';
import { finishChild } from '../render/child.ts';
import { httpSecretSecret, selfSignedTlsSecret, signingSecret } from '../render/generated-secrets.ts';
import { selfSignedHost } from '../render/ingress-tls.ts';
import {
  generateHttpSecret,
  generateSelfSignedTls,
  generateSigning,
  httpSecretFromSecret,
  signingFromSecret,
  tlsFromSecret,
  type GeneratedMaterial,
  type TlsMaterial,
} from '../render/material.ts';
import { childNames, type Component } from '../render/names.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/objects.ts';
import type { SecretObject } from './kube-shapes.ts';
import type { ContainerRegistry } from './registry-api.ts';

export class KeyMaterial {
  private readonly client: KubeClient;
  /** Metadata of every Secret: tells whether a copy read before is still current. */
  private readonly secrets: ObjectCache<KubeObject>;
  /** Generated Secrets as last read, by namespace/name. */
  private readonly copies = new Map<string, SecretObject>();

  constructor(client: KubeClient, secrets: ObjectCache<KubeObject>) {
    this.client = client;
    this.secrets = secrets;
  }

  /** The registry's material: what its Secrets hold, generated (and stored) where a Secret is missing. */
  async ensure(cr: ContainerRegistry, logger: Logger): Promise<GeneratedMaterial> {
    const n = childNames(cr.metadata.name);
    const signingStored =
      (await this.read(cr, n.signingKeys)) ??
      (await this.createOnce(
        cr,
        signingSecret(cr, await generateSigning(cr.spec.auth.issuer)),
        'token-issuer',
        logger,
      ));
    const signing = signingFromSecret(n.signingKeys, signingStored);
    const httpStored =
      (await this.read(cr, n.httpSecret)) ??
      (await this.createOnce(cr, httpSecretSecret(cr, generateHttpSecret()), 'registry', logger));
    const httpSecret = httpSecretFromSecret(n.httpSecret, httpStored);
    const selfSignedTls = await this.selfSignedTls(cr, logger);
    return { signing, httpSecret, ...(selfSignedTls ? { selfSignedTls } : {}) };
  }

  /** Drops the copies of a registry's Secrets (it is gone). */
  forget(namespace: string | undefined, names: readonly string[]): void {
    for (const name of names) this.copies.delete(`${namespace ?? ''}/${name}`);
  }

  private async selfSignedTls(cr: ContainerRegistry, logger: Logger): Promise<TlsMaterial | undefined> {
    const host = selfSignedHost(cr);
    if (host === undefined) return undefined;
    const name = childNames(cr.metadata.name).selfSignedTls;
    const stored = await this.read(cr, name);
    const usable = stored === undefined ? undefined : tlsFromSecret(stored, host);
    if (usable !== undefined) return usable;
    const fresh = await generateSelfSignedTls(host);
    if (stored === undefined) {
      const created = await this.createOnce(cr, selfSignedTlsSecret(cr, fresh), 'ingress', logger);
      return tlsFromSecret(created, host) ?? fresh;
    }
    // The host changed: a certificate for the old name is useless; the apply replaces it.
    logger.info({ name, host }, 'host changed; generating a new self-signed certificate');
    return fresh;
  }

  /** Reads live, except when the Secret cache shows the very version read before: that copy is current. */
  private async read(cr: ContainerRegistry, name: string): Promise<SecretObject | undefined> {
    const ns = cr.metadata.namespace;
    const key = `${ns}/${name}`;
    const known = this.copies.get(key);
    const cachedRv = this.secrets.get(key)?.metadata.resourceVersion;
    if (known !== undefined && cachedRv !== undefined && known.metadata.resourceVersion === cachedRv)
      return known;
    const live = await this.client.get<SecretObject>({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: ns,
      name,
    });
    if (live === undefined) this.copies.delete(key);
    else this.copies.set(key, live);
    return live;
  }

  /** Creates the Secret unless it exists; returns what is stored afterwards (ours, or the winner's). */
  private async createOnce(
    cr: ContainerRegistry,
    obj: KubeObject,
    component: Component,
    logger: Logger,
  ): Promise<SecretObject> {
    try {
      const created = await this.client.create<SecretObject>(finishChild(cr, obj, component) as SecretObject);
      logger.info({ name: obj.metadata.name }, 'generated key material');
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await this.read(cr, obj.metadata.name);
      if (existing === undefined) throw err;
      return existing;
    }
  }
}
