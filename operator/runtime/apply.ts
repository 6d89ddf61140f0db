// Applying an owner's desired children: server-side apply under the client's one field manager, stage by
// stage (each stage in parallel; server-side apply does not care about order, stages only keep pods from
// starting before what they read exists). A child whose last apply is known to be current (same content,
// same resourceVersion in the cache) is not sent again; an apply of unchanged content is a no-op for the API
// server anyway, this only saves the request.
//
// Failures are sorted, not thrown: a transient one (no answer, 5xx, 429, conflict) stops after its stage so
// the caller can back off; a refusal (422 Invalid, 403 Forbidden, ...) is reported per child, since sending
// the same request again at once cannot help.
import type { Logger } from 'pino';
import { contentHash } from './hash.ts';
import { describeError, isApiError, isTransient } from './errors.ts';
import type { ObjectCache } from './informer.ts';
import type { KubeClient } from './kube-client.ts';
import type { OperatorMetrics } from './metrics.ts';
import { objectKey, type KubeObject } from './objects.ts';

/** The informer cache of a child kind, if there is one. */
export type CacheOfKind = (kind: string) => ObjectCache<KubeObject> | undefined;

export interface RefusedChild {
  obj: KubeObject;
  err: unknown;
  /** `<Kind> <name>: <the API server's message> (<reason>)`. */
  message: string;
}

export interface ApplyOutcome {
  /** What the API server returned for each child it was sent, by `Kind/name`. */
  applied: Map<string, KubeObject>;
  refused: RefusedChild[];
  /** The first transient failure; the stages after its own were not applied. */
  transient?: { obj: KubeObject; err: unknown };
}

interface ApplyMemo {
  hash: string;
  resourceVersion: string;
}

/** `Kind/name`: how ApplyOutcome.applied is keyed (children share their owner's namespace). */
export function childKey(obj: { kind: string; metadata: { name: string } }): string {
  return `${obj.kind}/${obj.metadata.name}`;
}

function memoKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function refusal(obj: KubeObject, err: unknown): RefusedChild {
  const reason = isApiError(err) ? err.reason : 'Error';
  const detail = isApiError(err) ? (err.body?.message ?? err.message) : describeError(err);
  return { obj, err, message: `${obj.kind} ${obj.metadata.name}: ${detail} (${reason})` };
}

export class ChildApplier {
  private readonly client: KubeClient;
  private readonly cacheOf: CacheOfKind;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly memo = new Map<string, ApplyMemo>();

  constructor(client: KubeClient, cacheOf: CacheOfKind, metrics?: OperatorMetrics) {
    this.client = client;
    this.cacheOf = cacheOf;
    this.metrics = metrics;
  }

  /** Applies the stages in order; stops after a stage in which a transient failure happened. */
  async applyStages(stages: readonly (readonly KubeObject[])[], logger: Logger): Promise<ApplyOutcome> {
    const outcome: ApplyOutcome = { applied: new Map(), refused: [] };
    for (const stage of stages) {
      await Promise.all(
        stage.map(async (obj) => {
          try {
            const result = await this.apply(obj);
            if (result !== undefined) outcome.applied.set(childKey(obj), result);
          } catch (err) {
            if (isTransient(err)) {
              outcome.transient ??= { obj, err };
              return;
            }
            outcome.refused.push(refusal(obj, err));
            logger.warn(
              { kind: obj.kind, name: obj.metadata.name, err: describeError(err) },
              'child refused by the API server',
            );
          }
        }),
      );
      if (outcome.transient !== undefined) break;
    }
    return outcome;
  }

  /** Applies one child unless the cache shows the last apply of the same content is still in place. */
  async apply(obj: KubeObject): Promise<KubeObject | undefined> {
    const key = memoKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const hash = contentHash(obj);
    const cached = this.cacheOf(obj.kind)?.get(objectKey(obj));
    const memo = this.memo.get(key);
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
    // the first update after their creation, and the change event brings the owner back for that.
    if (changed) this.memo.delete(key);
    else this.memo.set(key, { hash, resourceVersion: rv });
    this.metrics?.applies.inc({ kind: obj.kind, changed: String(changed) });
    return result;
  }

  /** Forgets one child (it was deleted). */
  forgetChild(kind: string, namespace: string | undefined, name: string): void {
    this.memo.delete(memoKey(kind, namespace, name));
  }

  /** Forgets every child of these names in the namespace, whatever its kind (the owner is gone). */
  forget(namespace: string | undefined, names: readonly string[]): void {
    for (const k of [...this.memo.keys()]) {
      const [, ns, child] = k.split('/');
      if (ns === (namespace ?? '') && child !== undefined && names.includes(child)) this.memo.delete(k);
    }
  }
}
