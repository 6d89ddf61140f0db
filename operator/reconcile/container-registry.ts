// Reconciling a ContainerRegistry (level-triggered: the key is all a run gets; it reads the current state):
//
//  1. Parse the object with the API's zod schemas. An invalid spec is reported as Ready=False/InvalidSpec with
//     the offending fields named, and nothing is retried until the object changes (no hot loop).
//  2. Observe what render needs: the generated key material (read live; created exactly once, with a plain
//     create that fails if someone else created it first), the access-token Secrets the selector picks, and
//     the user Secrets the pods reference (their keys and a content hash).
//  3. Render the children (operator/render) and server-side apply each under the `berth-operator` field
//     manager. A child whose last apply is known to be current (same rendered content, same resourceVersion
//     in the cache) is not sent again; an apply of unchanged content is a no-op for the API server anyway.
//  4. Delete children this registry owns that are no longer rendered (an Ingress that was switched off, the
//     PodDisruptionBudget when replicas drop to 1, ...). PersistentVolumeClaims are never deleted here.
//  5. Write status (observedGeneration, conditions, endpoint, replica counts) through the status subresource,
//     only when it changed.
//
// API errors: transient ones (no answer, 5xx, 429, conflicts) are thrown, so the queue retries with backoff;
// a child the API server refuses (422 Invalid, 403 Forbidden, ...) is reported in the status and retried
// slowly, since retrying the same request at once cannot help.
import { contentHash } from '../render/hash.ts';
import {
  ContainerRegistryKind,
  parseRegistry,
  registryConditionTypes,
  type ContainerRegistry,
  type RegistryObject,
} from './registry-api.ts';
import { mergeAccessTokens, type MergedAccessTokens } from '../render/access-tokens.ts';
import { ConfigRenderError } from '../render/config.ts';
import {
  generateHttpSecret,
  generateSelfSignedTls,
  generateSigning,
  httpSecretFromSecret,
  MaterialError,
  signingFromSecret,
  tlsFromSecret,
  type GeneratedMaterial,
  type SigningMaterial,
  type TlsMaterial,
} from '../render/material.ts';
import { ingressClassNote } from '../render/ingress-class.ts';
import { childNames, labelKeys, managedBy } from '../render/names.ts';
import {
  finishChild,
  httpSecretSecret,
  ingressTls,
  referencedSecretNames,
  renderRegistry,
  selfSignedHost,
  selfSignedTlsSecret,
  signingSecret,
  type ReferencedSecret,
  type RenderOutput,
} from '../render/registry.ts';
import { setConditions, writeStatus, type ConditionInput } from '../runtime/conditions.ts';
import { ownerKeyMapper, type ReconcileResult } from '../runtime/controller.ts';
import { describeError, isAlreadyExists, isApiError, isTransient } from '../runtime/errors.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { Manager } from '../runtime/manager.ts';
import type { OperatorMetrics } from '../runtime/metrics.ts';
import { objectKey, splitKey, type Condition, type KubeObject } from '../runtime/objects.ts';
import { selectorMatches, selectorToString } from '../runtime/selectors.ts';
import type { Logger } from 'pino';

// --- the Kubernetes shapes read here

interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Deployment extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

interface Pvc extends KubeObject {
  status?: { phase?: string };
}

interface IngressObject extends KubeObject {
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

/** The kinds a registry is made of, and whether the reconciler may delete ones it no longer renders. */
const childKinds = [
  { apiVersion: 'v1', kind: 'ServiceAccount', prune: true },
  { apiVersion: 'v1', kind: 'Secret', prune: true },
  { apiVersion: 'v1', kind: 'ConfigMap', prune: true },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', prune: false },
  { apiVersion: 'v1', kind: 'Service', prune: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', prune: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', prune: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', prune: true },
] as const;

export interface ContainerRegistryControllerOptions {
  /** Image of registry and issuer pods when spec.image is unset. */
  defaultImage: string;
  concurrency?: number;
  /** How soon to look again after a child was refused by the API server (default 5 min). */
  refusedRetryMs?: number;
}

export interface ContainerRegistryCaches {
  registries: ObjectCache<KubeObject>;
  deployments: ObjectCache<Deployment>;
  pvcs: ObjectCache<Pvc>;
  ingresses: ObjectCache<IngressObject>;
  /** Metadata only: every Secret in the watched namespaces (owned ones, and access-token sources). */
  secrets: ObjectCache<KubeObject>;
  byKind: Map<string, ObjectCache<KubeObject>>;
}

interface ApplyMemo {
  hash: string;
  resourceVersion: string;
}

interface ChildProblem {
  reason: string;
  message: string;
}

const managedSelector = `${labelKeys.managedBy}=${managedBy}`;

function deploymentAvailable(
  d: Deployment | undefined,
  desired: number,
): { available: boolean; text: string; stuck?: string } {
  if (d === undefined) return { available: false, text: 'not created yet' };
  const s = d.status ?? {};
  const generation = d.metadata.generation ?? 0;
  const available = s.availableReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const current = (s.observedGeneration ?? 0) >= generation;
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  const failure = s.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  let stuck: string | undefined;
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    stuck = progressing.message ?? 'the rollout exceeded its progress deadline';
  } else if (failure) {
    stuck = failure.message ?? failure.reason ?? 'replica failure';
  }
  return {
    available: current && updated >= desired && available >= desired && total <= updated,
    text: `${String(available)}/${String(desired)} replicas available${current ? '' : ', rollout not observed yet'}`,
    ...(stuck !== undefined ? { stuck } : {}),
  };
}

export class ContainerRegistryReconciler {
  private readonly client: KubeClient;
  private readonly caches: ContainerRegistryCaches;
  private readonly opts: ContainerRegistryControllerOptions;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly memo = new Map<string, ApplyMemo>();
  /** Generated Secrets as last read, by namespace/name (see ensureMaterial). */
  private readonly secretCopies = new Map<string, SecretObject>();

  constructor(
    client: KubeClient,
    caches: ContainerRegistryCaches,
    opts: ContainerRegistryControllerOptions,
    metrics?: OperatorMetrics,
  ) {
    this.client = client;
    this.caches = caches;
    this.opts = opts;
    this.metrics = metrics;
  }

  async reconcile(key: string, logger: Logger): Promise<ReconcileResult> {
    const raw = this.caches.registries.get(key) as RegistryObject | undefined;
    if (raw === undefined) {
      this.forget(key);
      return {};
    }
    if (raw.metadata.deletionTimestamp !== undefined) return {}; // children go with it (ownerReferences)
    const parsed = parseRegistry(raw);
    if (!parsed.success) {
      logger.info({ issues: parsed.message }, 'invalid spec; waiting for it to change');
      await this.writeInvalid(raw, parsed.message);
      return { result: 'invalid' };
    }
    const cr = parsed.data;
    const problems: ChildProblem[] = [];

    // --- observe
    let material: GeneratedMaterial;
    try {
      material = await this.ensureMaterial(cr, logger);
    } catch (err) {
      if (err instanceof MaterialError) {
        await this.writeProblem(raw, { reason: 'KeyMaterialInvalid', message: err.message });
        return { result: 'invalid', requeueAfterMs: this.opts.refusedRetryMs ?? 300_000 };
      }
      throw err;
    }
    let accessTokens: MergedAccessTokens | undefined;
    const selector = cr.spec.auth.accessTokensFrom;
    if (selector !== undefined) {
      const listed = await this.client.list<SecretObject>('v1', 'Secret', {
        namespace: cr.metadata.namespace,
        labelSelector: selectorToString(selector),
      });
      accessTokens = mergeAccessTokens(listed.items);
      for (const p of accessTokens.problems) problems.push({ reason: 'AccessTokensInvalid', message: p });
    }
    const referencedSecrets: Record<string, ReferencedSecret | undefined> = {};
    for (const secretName of referencedSecretNames(cr)) {
      const s = await this.client.get<SecretObject>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: cr.metadata.namespace,
        name: secretName,
      });
      referencedSecrets[secretName] =
        s === undefined
          ? undefined
          : { keys: Object.keys(s.data ?? {}).sort(), hash: contentHash(s.data ?? {}) };
    }

    // --- render
    let rendered: RenderOutput;
    try {
      rendered = renderRegistry({
        registry: cr,
        material,
        ...(accessTokens ? { accessTokens } : {}),
        referencedSecrets,
        defaultImage: this.opts.defaultImage,
      });
    } catch (err) {
      if (err instanceof ConfigRenderError) {
        await this.writeProblem(raw, { reason: 'ConfigInvalid', message: err.message });
        return { result: 'invalid' };
      }
      throw err;
    }

    // --- apply: what pods read first (ServiceAccounts, Secrets, ConfigMap, claim), then the rest, each stage
    // in parallel (server-side apply does not care about order; stages only keep the first pods from starting
    // before their config exists).
    const applied = new Map<string, KubeObject>();
    const refused: ChildProblem[] = [];
    let transient: { obj: KubeObject; err: unknown } | undefined;
    const firstStage = new Set(['ServiceAccount', 'Secret', 'ConfigMap', 'PersistentVolumeClaim']);
    const stages = [
      rendered.objects.filter((o) => firstStage.has(o.kind)),
      rendered.objects.filter((o) => !firstStage.has(o.kind)),
    ];
    for (const stage of stages) {
      await Promise.all(
        stage.map(async (obj) => {
          try {
            const result = await this.applyChild(obj);
            if (result !== undefined) applied.set(`${obj.kind}/${obj.metadata.name}`, result);
          } catch (err) {
            if (isTransient(err)) {
              transient ??= { obj, err };
              return;
            }
            const reason = isApiError(err) ? err.reason : 'Error';
            refused.push({
              reason: 'ApplyFailed',
              message: `${obj.kind} ${obj.metadata.name}: ${isApiError(err) ? (err.body?.message ?? err.message) : describeError(err)} (${reason})`,
            });
            logger.warn(
              { kind: obj.kind, name: obj.metadata.name, err: describeError(err) },
              'child refused by the API server',
            );
          }
        }),
      );
      if (transient !== undefined) {
        const { obj, err } = transient;
        // Say so in the status (once: the same message is not written again), then back off.
        await this.writeProblem(
          raw,
          {
            reason: 'APIError',
            message: `applying ${obj.kind} ${obj.metadata.name} failed, retrying: ${describeError(err)}`,
          },
          true,
        ).catch(() => undefined);
        throw err;
      }
    }
    await this.prune(cr, rendered, logger);

    // --- status
    const status = this.computeStatus(raw, cr, rendered, applied, referencedSecrets, [
      ...refused,
      ...problems,
    ]);
    const wrote = await writeStatus(this.client, raw, status);
    if (wrote) logger.debug('status updated');
    if (refused.length > 0) return { result: 'refused', requeueAfterMs: this.opts.refusedRetryMs ?? 300_000 };
    return {};
  }

  /** Drops what this process remembers about a registry's children. */
  forget(key: string): void {
    const { namespace, name } = splitKey(key);
    const n = childNames(name);
    const prefixes = Object.values(n);
    for (const k of [...this.memo.keys()]) {
      const [, ns, child] = k.split('/');
      if (ns === namespace && child !== undefined && prefixes.includes(child)) this.memo.delete(k);
    }
    for (const child of prefixes) this.secretCopies.delete(`${namespace ?? ''}/${child}`);
  }

  // --- material

  private async ensureMaterial(cr: ContainerRegistry, logger: Logger): Promise<GeneratedMaterial> {
    const n = childNames(cr.metadata.name);
    const ns = cr.metadata.namespace;
    // Generated Secrets are read live (never trust a possibly stale cache with "does it exist?"), except when
    // the Secret cache shows the very version read before: then the copy in memory is current.
    const read = async (name: string): Promise<SecretObject | undefined> => {
      const key = `${ns}/${name}`;
      const known = this.secretCopies.get(key);
      const cachedRv = this.caches.secrets.get(key)?.metadata.resourceVersion;
      if (known !== undefined && cachedRv !== undefined && known.metadata.resourceVersion === cachedRv)
        return known;
      const live = await this.client.get<SecretObject>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: ns,
        name,
      });
      if (live === undefined) this.secretCopies.delete(key);
      else this.secretCopies.set(key, live);
      return live;
    };
    /** Creates the Secret unless it exists; returns what is stored afterwards (ours, or the winner's). */
    const createOnce = async (
      obj: KubeObject,
      component: 'token-issuer' | 'registry' | 'ingress',
    ): Promise<SecretObject> => {
      try {
        const created = await this.client.create<SecretObject>(
          finishChild(cr, obj, component) as SecretObject,
        );
        logger.info({ name: obj.metadata.name }, 'generated key material');
        return created;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const existing = await read(obj.metadata.name);
        if (existing === undefined) throw err;
        return existing;
      }
    };

    let signing: SigningMaterial;
    const signingStored = await read(n.signingKeys);
    if (signingStored !== undefined) signing = signingFromSecret(n.signingKeys, signingStored);
    else {
      const fresh = await generateSigning(cr.spec.auth.issuer);
      signing = signingFromSecret(n.signingKeys, await createOnce(signingSecret(cr, fresh), 'token-issuer'));
    }

    let httpSecret: string;
    const httpStored = await read(n.httpSecret);
    if (httpStored !== undefined) httpSecret = httpSecretFromSecret(n.httpSecret, httpStored);
    else
      httpSecret = httpSecretFromSecret(
        n.httpSecret,
        await createOnce(httpSecretSecret(cr, generateHttpSecret()), 'registry'),
      );

    let selfSignedTls: TlsMaterial | undefined;
    const host = selfSignedHost(cr);
    if (host !== undefined) {
      const stored = await read(n.selfSignedTls);
      selfSignedTls = stored === undefined ? undefined : tlsFromSecret(stored, host);
      if (selfSignedTls === undefined) {
        const fresh = await generateSelfSignedTls(host);
        if (stored === undefined) {
          const created = await createOnce(selfSignedTlsSecret(cr, fresh), 'ingress');
          selfSignedTls = tlsFromSecret(created, host) ?? fresh;
        } else {
          // The host changed: a certificate for the old name is useless; the apply below replaces it.
          logger.info(
            { name: n.selfSignedTls, host },
            'host changed; generating a new self-signed certificate',
          );
          selfSignedTls = fresh;
        }
      }
    }
    return { signing, httpSecret, ...(selfSignedTls ? { selfSignedTls } : {}) };
  }

  // --- apply / prune

  private cacheOf(kind: string): ObjectCache<KubeObject> | undefined {
    return this.caches.byKind.get(kind);
  }

  /** Applies one child unless the cache shows the last apply of the same content is still in place. */
  private async applyChild(obj: KubeObject): Promise<KubeObject | undefined> {
    const memoKey = `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const hash = contentHash(obj);
    const cached = this.cacheOf(obj.kind)?.get(objectKey(obj));
    const memo = this.memo.get(memoKey);
    if (
      memo !== undefined &&
      memo.hash === hash &&
      cached !== undefined &&
      cached.metadata.resourceVersion === memo.resourceVersion
    ) {
      return undefined; // unchanged since our last apply
    }
    const before = cached?.metadata.resourceVersion;
    const result = await this.client.apply<KubeObject>(obj);
    const rv = result.metadata.resourceVersion ?? '';
    const changed = before !== rv;
    // Remember only applies that changed nothing: some kinds (PersistentVolumeClaims) take one more write on
    // the first update after their creation, and the change event brings the registry back for that.
    if (changed) this.memo.delete(memoKey);
    else this.memo.set(memoKey, { hash, resourceVersion: rv });
    this.metrics?.applies.inc({ kind: obj.kind, changed: String(changed) });
    return result;
  }

  private async prune(cr: ContainerRegistry, rendered: RenderOutput, logger: Logger): Promise<void> {
    const uid = cr.metadata.uid;
    const wanted = new Set(rendered.objects.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const k of childKinds) {
      if (!k.prune) continue;
      const cache = this.cacheOf(k.kind);
      if (cache === undefined) continue;
      for (const obj of cache.list()) {
        if (obj.metadata.namespace !== cr.metadata.namespace) continue;
        if (obj.metadata.labels?.[labelKeys.registry] !== cr.metadata.name) continue;
        const owner = obj.metadata.ownerReferences?.find((r) => r.controller === true);
        if (owner?.uid !== uid || wanted.has(`${k.kind}/${obj.metadata.name}`)) continue;
        logger.info({ kind: k.kind, name: obj.metadata.name }, 'deleting a child that is no longer wanted');
        await this.client.delete(
          {
            apiVersion: k.apiVersion,
            kind: k.kind,
            namespace: cr.metadata.namespace,
            name: obj.metadata.name,
          },
          {
            ...(obj.metadata.uid !== undefined ? { uid: obj.metadata.uid } : {}),
            propagationPolicy: 'Background',
          },
        );
        this.memo.delete(`${k.kind}/${cr.metadata.namespace}/${obj.metadata.name}`);
      }
    }
  }

  // --- status

  private computeStatus(
    raw: RegistryObject,
    cr: ContainerRegistry,
    rendered: RenderOutput,
    applied: Map<string, KubeObject>,
    referencedSecrets: Record<string, ReferencedSecret | undefined>,
    problems: ChildProblem[],
  ): Record<string, unknown> {
    const n = rendered.names;
    const ns = cr.metadata.namespace;
    const fresh = <T extends KubeObject>(kind: string, name: string, cache: ObjectCache<T>): T | undefined =>
      (applied.get(`${kind}/${name}`) as T | undefined) ?? cache.get(`${ns}/${name}`);
    const registryDeployment = fresh('Deployment', n.registry, this.caches.deployments);
    const issuerDeployment = fresh('Deployment', n.issuer, this.caches.deployments);
    const registry = deploymentAvailable(registryDeployment, cr.spec.replicas);
    const issuer = deploymentAvailable(issuerDeployment, cr.spec.replicas > 1 ? 2 : 1);
    const generation = cr.metadata.generation;

    // storage
    let storageReady: ConditionInput;
    const storage = cr.spec.storage;
    const missingCredentials = referencedSecretNames(cr).filter((s) => referencedSecrets[s] === undefined);
    if (storage.filesystem !== undefined) {
      const claim = storage.filesystem.claimName ?? n.data;
      const pvc = fresh<Pvc>('PersistentVolumeClaim', claim, this.caches.pvcs);
      const phase = pvc?.status?.phase;
      storageReady =
        phase === 'Bound'
          ? {
              type: registryConditionTypes.StorageReady,
              status: true,
              reason: 'Bound',
              message: `PersistentVolumeClaim ${claim} is bound`,
            }
          : {
              type: registryConditionTypes.StorageReady,
              status: false,
              reason: pvc === undefined ? 'ClaimNotFound' : 'WaitingForVolume',
              message:
                pvc === undefined
                  ? `PersistentVolumeClaim ${claim} does not exist`
                  : `PersistentVolumeClaim ${claim} is ${phase ?? 'Pending'}`,
            };
    } else if (missingCredentials.length > 0) {
      storageReady = {
        type: registryConditionTypes.StorageReady,
        status: false,
        reason: 'SecretNotFound',
        message: `Secret ${missingCredentials.join(', ')} (referenced by the spec) does not exist in ${ns}`,
      };
    } else {
      storageReady = {
        type: registryConditionTypes.StorageReady,
        status: true,
        reason: 'Configured',
        message: 'object storage is configured',
      };
    }

    // auth
    const authReady: ConditionInput = issuer.available
      ? {
          type: registryConditionTypes.AuthReady,
          status: true,
          reason: 'Available',
          message: `token issuer ${n.issuer} is available`,
        }
      : {
          type: registryConditionTypes.AuthReady,
          status: false,
          reason: 'IssuerUnavailable',
          message: `waiting for Deployment ${n.issuer} to become available (${issuer.text})`,
        };

    // ingress
    let ingressReady: ConditionInput;
    const ing = cr.spec.ingress;
    if (!ing.enabled) {
      ingressReady = {
        type: registryConditionTypes.IngressReady,
        status: true,
        reason: 'Disabled',
        message: 'spec.ingress.enabled is false; the registry is reachable in the cluster only',
      };
    } else {
      const tls = ingressTls(cr);
      const tlsMissing =
        tls.source === 'secret' && this.caches.secrets.get(`${ns}/${tls.secretName}`) === undefined;
      const ingress = fresh<IngressObject>('Ingress', n.ingress, this.caches.ingresses);
      const address = ingress?.status?.loadBalancer?.ingress?.[0];
      // What the class's controller needs that the Ingress cannot ask for (Traefik's read timeout).
      const note = ingressClassNote(ing.className);
      const withNote = (message: string) => (note === undefined ? message : `${message}; ${note}`);
      if (tlsMissing) {
        ingressReady = {
          type: registryConditionTypes.IngressReady,
          status: false,
          reason: 'TLSSecretNotFound',
          message: `TLS Secret ${tls.secretName} does not exist in ${ns}`,
        };
      } else if (address === undefined) {
        ingressReady = {
          type: registryConditionTypes.IngressReady,
          status: false,
          reason: 'WaitingForAddress',
          message: withNote(
            `Ingress ${n.ingress} has no address yet (is an ingress controller running for it?)`,
          ),
        };
      } else {
        ingressReady = {
          type: registryConditionTypes.IngressReady,
          status: true,
          reason: 'Admitted',
          message: withNote(`Ingress ${n.ingress} is served at ${address.hostname ?? address.ip ?? ''}`),
        };
      }
    }

    // summary
    const stuck = registry.stuck ?? issuer.stuck;
    const degraded: ConditionInput =
      problems.length > 0
        ? {
            type: 'Degraded',
            status: true,
            reason: problems[0]?.reason ?? 'Problem',
            message: problems.map((p) => p.message).join('; '),
          }
        : stuck !== undefined
          ? { type: 'Degraded', status: true, reason: 'RolloutStuck', message: stuck }
          : storageReady.status === false && storageReady.reason === 'SecretNotFound'
            ? { type: 'Degraded', status: true, reason: 'SecretNotFound', message: storageReady.message }
            : { type: 'Degraded', status: false, reason: 'AsExpected', message: 'no problems found' };
    const refused = problems.find((p) => p.reason === 'ApplyFailed');
    let ready: ConditionInput;
    if (refused !== undefined) {
      ready = { type: 'Ready', status: false, reason: 'ApplyFailed', message: refused.message };
    } else if (!registry.available) {
      ready = {
        type: 'Ready',
        status: false,
        reason: 'RegistryUnavailable',
        message: `waiting for Deployment ${n.registry} to become available (${registry.text})`,
      };
    } else if (!issuer.available) {
      ready = { type: 'Ready', status: false, reason: 'TokenIssuerUnavailable', message: authReady.message };
    } else {
      ready = {
        type: 'Ready',
        status: true,
        reason: 'Available',
        message: `the registry serves at ${rendered.endpoint}`,
      };
    }
    const progressing: ConditionInput =
      ready.status === true
        ? {
            type: 'Progressing',
            status: false,
            reason: 'Complete',
            message: 'the registry and its token issuer are up to date and available',
          }
        : refused !== undefined
          ? { type: 'Progressing', status: false, reason: 'ApplyFailed', message: refused.message }
          : { type: 'Progressing', status: true, reason: 'RollingOut', message: ready.message };

    const mine = [ready, progressing, degraded, storageReady, authReady, ingressReady];
    const existing = ((raw.status?.conditions ?? []) as Condition[]).filter((c) =>
      mine.some((m) => m.type === c.type),
    );
    return {
      observedGeneration: generation,
      conditions: setConditions(existing, mine, generation),
      endpoint: rendered.endpoint,
      replicas: registryDeployment?.status?.replicas ?? 0,
      readyReplicas: registryDeployment?.status?.readyReplicas ?? 0,
    };
  }

  /** Status for a spec that does not parse: the fields named, everything else as it was. */
  private async writeInvalid(raw: RegistryObject, message: string): Promise<void> {
    await this.writeProblem(raw, { reason: 'InvalidSpec', message: `invalid spec: ${message}` });
  }

  private async writeProblem(raw: RegistryObject, problem: ChildProblem, retrying = false): Promise<void> {
    const generation = raw.metadata.generation;
    const current = (raw.status ?? {}) as Record<string, unknown>;
    const inputs: ConditionInput[] = [
      { type: 'Ready', status: false, reason: problem.reason, message: problem.message },
      retrying
        ? { type: 'Progressing', status: true, reason: 'Retrying', message: 'retrying with backoff' }
        : {
            type: 'Progressing',
            status: false,
            reason: problem.reason,
            message: 'nothing is rolled out until the problem is fixed',
          },
      { type: 'Degraded', status: true, reason: problem.reason, message: problem.message },
    ];
    const existing = ((current['conditions'] ?? []) as Condition[]).filter((c) =>
      inputs.some((i) => i.type === c.type),
    );
    const status: Record<string, unknown> = {
      observedGeneration: generation,
      conditions: setConditions(existing, inputs, generation),
    };
    // Keep what this reconciler reported before (it would otherwise be dropped from its applied status).
    for (const k of ['endpoint', 'replicas', 'readyReplicas'])
      if (current[k] !== undefined) status[k] = current[k];
    await writeStatus(this.client, raw, status);
  }
}

// --- wiring

/** Registers the informers and the ContainerRegistry controller with the manager. */
export function setupContainerRegistryController(manager: Manager, opts: ContainerRegistryControllerOptions) {
  const registries = manager.informer<KubeObject>({
    apiVersion: ContainerRegistryKind.apiVersion,
    kind: ContainerRegistryKind.kind,
  });
  const byKind = new Map<string, ObjectCache<KubeObject>>();
  const deployments = manager.informer<Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    labelSelector: managedSelector,
  });
  const pvcs = manager.informer<Pvc>({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    labelSelector: managedSelector,
  });
  const ingresses = manager.informer<IngressObject>({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    labelSelector: managedSelector,
  });
  // Every Secret, metadata only: owned ones, the user's access-token and credential Secrets (matched below).
  const secrets = manager.informer<KubeObject>({ apiVersion: 'v1', kind: 'Secret', metadataOnly: true });
  byKind.set('Deployment', deployments);
  byKind.set('PersistentVolumeClaim', pvcs);
  byKind.set('Ingress', ingresses);
  byKind.set('Secret', secrets);
  for (const k of childKinds) {
    if (byKind.has(k.kind)) continue;
    byKind.set(
      k.kind,
      manager.informer<KubeObject>({
        apiVersion: k.apiVersion,
        kind: k.kind,
        labelSelector: managedSelector,
        metadataOnly: true,
      }),
    );
  }
  const caches: ContainerRegistryCaches = { registries, deployments, pvcs, ingresses, secrets, byKind };
  const reconciler = new ContainerRegistryReconciler(manager.client, caches, opts, manager.metrics);

  const byLabel = (obj: KubeObject): string[] => {
    const r = obj.metadata.labels?.[labelKeys.registry];
    return r === undefined || obj.metadata.namespace === undefined ? [] : [`${obj.metadata.namespace}/${r}`];
  };
  const owners = ownerKeyMapper(ContainerRegistryKind.apiVersion, ContainerRegistryKind.kind);
  const childMap = (obj: KubeObject) => [...new Set([...owners(obj), ...byLabel(obj)])];
  // A user Secret concerns every registry in its namespace that selects it or references it by name.
  const secretMap = (obj: KubeObject): string[] => {
    const keys = new Set(childMap(obj));
    for (const reg of registries.list() as RegistryObject[]) {
      if (reg.metadata.namespace !== obj.metadata.namespace) continue;
      const spec = reg.spec as
        { auth?: { accessTokensFrom?: Parameters<typeof selectorMatches>[0] } } | undefined;
      const selector = spec?.auth?.accessTokensFrom;
      const refs = secretNamesIn(reg);
      if (
        (selector !== undefined && selectorMatches(selector, obj.metadata.labels)) ||
        refs.includes(obj.metadata.name)
      ) {
        keys.add(objectKey(reg));
      }
    }
    return [...keys];
  };
  const controller = manager.addController({
    name: 'containerregistry',
    primary: registries,
    related: [
      ...[...byKind.entries()]
        .filter(([kind]) => kind !== 'Secret')
        .map(([, informer]) => ({ informer, map: childMap })),
      { informer: secrets, map: secretMap },
    ],
    reconcile: (key, { logger }) => reconciler.reconcile(key, logger),
    concurrency: opts.concurrency ?? 8,
  });
  return { controller, reconciler, caches };
}

/** Names of Secrets a (possibly unparsed) registry object references, without parsing it fully. */
function secretNamesIn(reg: RegistryObject): string[] {
  const names: string[] = [];
  const spec = (reg.spec ?? {}) as {
    storage?: Record<string, { credentialsSecretRef?: { name?: string } } | undefined>;
    notifications?: { endpoints?: { headersSecretRef?: { name?: string } }[] };
    ingress?: { tls?: { secretName?: string } };
  };
  for (const driver of Object.values(spec.storage ?? {})) {
    const name = typeof driver === 'object' ? driver.credentialsSecretRef?.name : undefined;
    if (name !== undefined) names.push(name);
  }
  for (const e of spec.notifications?.endpoints ?? [])
    if (e.headersSecretRef?.name !== undefined) names.push(e.headersSecretRef.name);
  if (spec.ingress?.tls?.secretName !== undefined) names.push(spec.ingress.tls.secretName);
  return names;
}
