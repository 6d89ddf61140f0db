// A small typed client for the Kubernetes API. kube-config.ts finds the server and credentials (kubeconfig
// files, in-cluster ServiceAccount credentials, token refresh, client certificates); the requests themselves
// are plain HTTPS with JSON bodies, because the operator needs what the generated clients
// make awkward: server-side apply to any kind and to the status subresource, raw JSON objects (no class
// instances or Date conversion, so objects can be hashed and re-applied), and watch streams whose socket it
// controls (so a stalled watch can be torn down).
//
// Every write uses one field manager (`berth-operator` by default). Server-side apply with an unchanged body is
// a no-op on the server: the resourceVersion does not move.
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from './node-http.ts';
import { ApiError, RuntimeError, runtimeErrorCodes, type StatusBody } from './errors.ts';
import { loadKubeConnection, type KubeConnection } from './kube-config.ts';
import { isPlainObject, type KubeObject, type ObjectRef } from './objects.ts';

export const defaultFieldManager = 'berth-operator';

export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  /** The plural resource name used in paths, e.g. `deployments`. */
  plural: string;
  namespaced: boolean;
}

export interface KubeClientOptions {
  fieldManager?: string;
  /** Timeout of one non-watch request (default 30 s). */
  requestTimeoutMs?: number;
  userAgent?: string;
}

export interface RequestParams {
  accept?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ListOptions {
  namespace?: string;
  /** Only metadata (PartialObjectMetadata): much less to transfer and cache, e.g. for Secrets. */
  metadataOnly?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size (default 500); pages are fetched until the list is complete. */
  limit?: number;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion: where a watch should start. */
  resourceVersion: string;
}

export interface ApplyOptions {
  /** Take ownership of fields another manager holds (default true: the operator owns what it renders). */
  force?: boolean;
  /** Apply to a subresource, e.g. `status`. */
  subresource?: string;
  dryRun?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  /** Only delete the object with this uid (not a same-named successor). */
  uid?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions {
  namespace?: string;
  metadataOnly?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  /** Ask for BOOKMARK events (default true): they keep a quiet watch visibly alive. */
  allowBookmarks?: boolean;
  /** Server-side timeout of this watch call. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

interface Credentials {
  headers: Record<string, string>;
}

function encodePath(s: string): string {
  return encodeURIComponent(s);
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function apiRoot(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

function parseStatus(text: string): StatusBody | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isPlainObject(v) ? (v as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

const metadataListAccept =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const metadataAccept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

export class KubeClient {
  readonly server: URL;
  readonly fieldManager: string;
  private readonly connection: KubeConnection;
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;
  private agentPromise: Promise<HttpAgent | HttpsAgent> | undefined;
  private readonly discovery = new Map<string, Promise<ResourceInfo[]>>();
  private closed = false;

  constructor(connection: KubeConnection, options: KubeClientOptions = {}) {
    if (connection.server === undefined) {
      throw new RuntimeError(runtimeErrorCodes.noCluster, 'the kubeconfig has no current cluster');
    }
    this.connection = connection;
    this.server = new URL(connection.server);
    this.fieldManager = options.fieldManager ?? defaultFieldManager;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'berth-operator';
  }

  /** From a kubeconfig file, or (no file) KUBECONFIG / ~/.kube/config / in-cluster credentials. */
  static load(kubeconfigPath?: string, options: KubeClientOptions = {}): KubeClient {
    return new KubeClient(loadKubeConnection(kubeconfigPath), options);
  }

  /** Closes idle keep-alive connections; open watches should be aborted by their owners first. */
  close(): void {
    this.closed = true;
    void this.agentPromise?.then((a) => a.destroy());
  }

  private agent(): Promise<HttpAgent | HttpsAgent> {
    this.agentPromise ??= (async () => {
      // One keep-alive agent carries the CA, client certificate and key.
      if (this.server.protocol === 'http:') return new HttpAgent({ keepAlive: true, maxFreeSockets: 16 });
      return new HttpsAgent({ keepAlive: true, maxFreeSockets: 16, ...(await this.connection.tls()) });
    })();
    return this.agentPromise;
  }

  /** Fresh auth headers for each request (in-cluster tokens rotate; exec plugins refresh). */
  private async credentials(): Promise<Credentials> {
    return { headers: await this.connection.headers() };
  }

  private buildPath(path: string, query: RequestParams['query']): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return qs === '' ? path : `${path}?${qs}`;
  }

  /** Opens a request and resolves with the response head; the caller consumes the body. */
  private async open(
    method: string,
    path: string,
    params: RequestParams,
    accept: string,
  ): Promise<{ res: IncomingMessage; fullPath: string }> {
    if (this.closed) throw new RuntimeError(runtimeErrorCodes.shutDown, 'the client is closed');
    const fullPath = this.buildPath(path, params.query);
    const [agent, creds] = await Promise.all([this.agent(), this.credentials()]);
    const headers: Record<string, string> = {
      ...creds.headers,
      accept,
      'user-agent': this.userAgent,
    };
    let body: Buffer | undefined;
    if (params.body !== undefined) {
      body = Buffer.from(typeof params.body === 'string' ? params.body : JSON.stringify(params.body));
      headers['content-type'] = params.contentType ?? 'application/json';
      headers['content-length'] = String(body.length);
    }
    const url = new URL(fullPath, this.server);
    const send = this.server.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method,
        headers,
        agent,
        ...(params.signal !== undefined ? { signal: params.signal } : {}),
      });
      const timeoutMs = params.timeoutMs;
      if (timeoutMs !== undefined && timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${String(timeoutMs)} ms`)));
      }
      req.on('response', (res) => resolve({ res, fullPath }));
      req.on('error', (err) =>
        reject(
          new ApiError({
            code: runtimeErrorCodes.apiUnreachable,
            status: 0,
            method,
            path: fullPath,
            message: err.message,
            cause: err,
          }),
        ),
      );
      req.end(body);
    });
  }

  private static async readBody(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private static statusError(
    method: string,
    path: string,
    status: number,
    text: string,
    res?: IncomingMessage,
  ) {
    const body = parseStatus(text);
    const retryAfter = Number(res?.headers['retry-after']);
    return new ApiError({
      code: runtimeErrorCodes.apiStatus,
      status,
      method,
      path,
      message: `HTTP ${String(status)} ${body?.reason ?? ''}: ${body?.message ?? text.slice(0, 300)}`,
      ...(body !== undefined ? { body } : {}),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }

  /** One API call; resolves with the parsed JSON body, throws ApiError for anything but 2xx. */
  async request<T = unknown>(method: string, path: string, params: RequestParams = {}): Promise<T> {
    const { res, fullPath } = await this.open(
      method,
      path,
      { timeoutMs: this.requestTimeoutMs, ...params },
      params.accept ?? 'application/json',
    );
    let text: string;
    try {
      text = await KubeClient.readBody(res);
    } catch (err) {
      throw new ApiError({
        code: runtimeErrorCodes.apiUnreachable,
        status: 0,
        method,
        path: fullPath,
        message: `reading the response: ${(err as Error).message}`,
        cause: err,
      });
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw KubeClient.statusError(method, fullPath, status, text, res);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ApiError({
        code: runtimeErrorCodes.apiBadResponse,
        status,
        method,
        path: fullPath,
        message: `response is not JSON: ${text.slice(0, 200)}`,
        cause: err,
      });
    }
  }

  // --- discovery

  private async resourcesOf(apiVersion: string, refresh: boolean): Promise<ResourceInfo[]> {
    let p = refresh ? undefined : this.discovery.get(apiVersion);
    if (p === undefined) {
      p = (async () => {
        const list = await this.request<{
          resources?: { name: string; kind: string; namespaced: boolean }[];
        }>('GET', apiRoot(apiVersion));
        return (list.resources ?? [])
          .filter((r) => !r.name.includes('/'))
          .map((r) => ({ apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced }));
      })();
      this.discovery.set(apiVersion, p);
      p.catch(() => this.discovery.delete(apiVersion));
    }
    return p;
  }

  /** Where `kind` lives in the API (discovery, cached; refreshed once when a kind is missing). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    for (const refresh of [false, true]) {
      let list: ResourceInfo[];
      try {
        list = await this.resourcesOf(apiVersion, refresh);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) continue; // group/version not served (yet)
        throw err;
      }
      const found = list.find((r) => r.kind === kind);
      if (found) return found;
    }
    throw new RuntimeError(
      runtimeErrorCodes.unknownKind,
      `the API server does not serve ${kind} in ${apiVersion} (is its CRD installed?)`,
    );
  }

  /** The collection path (`name` omitted) or object path of a resource. */
  async path(apiVersion: string, kind: string, namespace?: string, name?: string, subresource?: string) {
    const info = await this.resource(apiVersion, kind);
    let p = apiRoot(apiVersion);
    if (info.namespaced && namespace !== undefined && namespace !== '') {
      p += `/namespaces/${encodePath(namespace)}`;
    }
    p += `/${info.plural}`;
    if (name !== undefined) p += `/${encodePath(name)}`;
    if (subresource !== undefined) p += `/${subresource}`;
    return p;
  }

  // --- typed verbs

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(ref: ObjectRef, signal?: AbortSignal): Promise<T | undefined> {
    const p = await this.path(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    try {
      return await this.request<T>('GET', p, signal ? { signal } : {});
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** All objects (every page), with apiVersion/kind filled in on each item. */
  async list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<ListResult<T>> {
    const p = await this.path(apiVersion, kind, opts.namespace);
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<{
        items?: T[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>('GET', p, {
        ...(opts.metadataOnly === true ? { accept: metadataListAccept } : {}),
        query: {
          limit: opts.limit ?? 500,
          continue: cont,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
        },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue;
    } while (cont !== undefined && cont !== '');
    return { items, resourceVersion };
  }

  /** POST; throws AlreadyExists (409) when the object exists. */
  async create<T extends KubeObject>(obj: T): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace);
    return this.request<T>('POST', p, { body: obj, query: { fieldManager: this.fieldManager } });
  }

  /** PUT with the object's resourceVersion: fails with a 409 Conflict when someone wrote in between. */
  async replace<T extends KubeObject>(obj: T): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.request<T>('PUT', p, { body: obj, query: { fieldManager: this.fieldManager } });
  }

  /**
   * Server-side apply of `obj` (which holds only the fields the operator manages) under the one field
   * manager. The result is the whole object as stored.
   */
  async apply<T extends KubeObject>(obj: KubeObject, opts: ApplyOptions = {}): Promise<T> {
    const p = await this.path(
      obj.apiVersion,
      obj.kind,
      obj.metadata.namespace,
      obj.metadata.name,
      opts.subresource,
    );
    return this.request<T>('PATCH', p, {
      body: obj,
      // JSON is YAML: the apply patch type accepts it.
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: this.fieldManager,
        force: opts.force ?? true,
        dryRun: opts.dryRun === true ? 'All' : undefined,
      },
    });
  }

  /** Server-side apply of `status` to the status subresource of `ref`. */
  async applyStatus<T extends KubeObject>(ref: ObjectRef, status: unknown): Promise<T> {
    const body: KubeObject & { status: unknown } = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}) },
      status,
    };
    return this.apply<T>(body, { subresource: 'status' });
  }

  /** A JSON merge patch (RFC 7386). */
  async mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, subresource?: string): Promise<T> {
    const p = await this.path(ref.apiVersion, ref.kind, ref.namespace, ref.name, subresource);
    return this.request<T>('PATCH', p, {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: this.fieldManager },
    });
  }

  /** Deletes the object; resolves false when it was already gone. */
  async delete(ref: ObjectRef, opts: DeleteOptions = {}): Promise<boolean> {
    const p = await this.path(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.propagationPolicy) body['propagationPolicy'] = opts.propagationPolicy;
    if (opts.uid !== undefined) body['preconditions'] = { uid: opts.uid };
    try {
      await this.request('DELETE', p, { body });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Streams a watch. `onEvent` sees ADDED/MODIFIED/DELETED/BOOKMARK; an ERROR event (e.g. 410 Expired)
   * rejects with an ApiError. Resolves when the server ends the stream (its timeout) or `signal` aborts.
   */
  async watch<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
  ): Promise<void> {
    const p = await this.path(apiVersion, kind, opts.namespace);
    const params: RequestParams = {
      query: {
        watch: 1,
        allowWatchBookmarks: opts.allowBookmarks ?? true,
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds,
      },
    };
    if (opts.signal) params.signal = opts.signal;
    let opened: { res: IncomingMessage; fullPath: string };
    try {
      opened = await this.open(
        'GET',
        p,
        params,
        opts.metadataOnly === true ? metadataAccept : 'application/json',
      );
    } catch (err) {
      if (opts.signal?.aborted === true) return;
      throw err;
    }
    const { res, fullPath } = opened;
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      throw KubeClient.statusError('GET', fullPath, status, await KubeClient.readBody(res), res);
    }
    let buffered = '';
    try {
      for await (const chunk of res) {
        buffered += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === '') continue;
          const event = JSON.parse(line) as { type: string; object: unknown };
          if (event.type === 'ERROR') {
            const s = event.object as StatusBody;
            res.destroy();
            throw new ApiError({
              code: runtimeErrorCodes.apiStatus,
              status: s.code ?? 500,
              method: 'WATCH',
              path: fullPath,
              message: `watch error ${s.reason ?? ''}: ${s.message ?? ''}`,
              body: s,
            });
          }
          const object = event.object as T;
          if (event.type !== 'BOOKMARK') {
            // Watch events carry apiVersion/kind, but make sure (list items do not).
            object.apiVersion = apiVersion;
            object.kind = kind;
          }
          onEvent({ type: event.type as WatchEventType, object });
        }
      }
    } catch (err) {
      if (opts.signal?.aborted === true) return;
      if (err instanceof ApiError) throw err;
      throw new ApiError({
        code: runtimeErrorCodes.apiUnreachable,
        status: 0,
        method: 'WATCH',
        path: fullPath,
        message: `watch stream broke: ${(err as Error).message}`,
        cause: err,
      });
    }
  }
}

/** A typed handle on one kind: the verbs without repeating apiVersion/kind. */
export class ResourceClient<T extends KubeObject> {
  readonly client: KubeClient;
  readonly apiVersion: string;
  readonly kind: string;

  constructor(client: KubeClient, apiVersion: string, kind: string) {
    this.client = client;
    this.apiVersion = apiVersion;
    this.kind = kind;
  }

  get(name: string, namespace?: string): Promise<T | undefined> {
    return this.client.get<T>(this.ref(name, namespace));
  }

  list(opts: ListOptions = {}): Promise<ListResult<T>> {
    return this.client.list<T>(this.apiVersion, this.kind, opts);
  }

  apply(obj: Omit<T, 'apiVersion' | 'kind'> & Partial<KubeObject>, opts: ApplyOptions = {}): Promise<T> {
    return this.client.apply<T>({ ...obj, apiVersion: this.apiVersion, kind: this.kind }, opts);
  }

  applyStatus(name: string, namespace: string | undefined, status: unknown): Promise<T> {
    return this.client.applyStatus<T>(this.ref(name, namespace), status);
  }

  delete(name: string, namespace?: string, opts: DeleteOptions = {}): Promise<boolean> {
    return this.client.delete(this.ref(name, namespace), opts);
  }

  ref(name: string, namespace?: string): ObjectRef {
    const ref: ObjectRef = { apiVersion: this.apiVersion, kind: this.kind, name };
    if (namespace !== undefined) ref.namespace = namespace;
    return ref;
  }
}
