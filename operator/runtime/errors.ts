// The operator runtime's error catalogue. Every error the runtime throws on purpose carries a stable `code`
// so callers (the work queue, reconcilers, logs) can decide what to do without matching message text.

export const runtimeErrorCodes = {
  /** The API server answered with a non-2xx status (see `ApiError.status` and `.reason`). */
  apiStatus: 'K8S_API_STATUS',
  /** The request never got an answer: connection refused/reset, TLS failure, timeout. */
  apiUnreachable: 'K8S_API_UNREACHABLE',
  /** The API server's answer was not the JSON it should be. */
  apiBadResponse: 'K8S_API_BAD_RESPONSE',
  /** Discovery does not know the apiVersion/kind (CRD not installed?). */
  unknownKind: 'K8S_UNKNOWN_KIND',
  /** The kubeconfig has no usable cluster. */
  noCluster: 'K8S_NO_CLUSTER',
  /** A work queue or informer was used after it was shut down. */
  shutDown: 'RUNTIME_SHUT_DOWN',
} as const;

export type RuntimeErrorCode = (typeof runtimeErrorCodes)[keyof typeof runtimeErrorCodes];

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** The body of a failed API call (metav1.Status), as far as the runtime reads it. */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

export class ApiError extends RuntimeError {
  /** HTTP status; 0 when there was no response at all. */
  readonly status: number;
  /** metav1.Status reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden, TooManyRequests, ... */
  readonly reason: string;
  readonly body: StatusBody | undefined;
  readonly method: string;
  readonly path: string;
  /** Seconds the server asked us to wait (Retry-After or details.retryAfterSeconds). */
  readonly retryAfterSeconds: number | undefined;

  constructor(opts: {
    code: RuntimeErrorCode;
    status: number;
    method: string;
    path: string;
    message: string;
    body?: StatusBody;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    super(opts.code, `${opts.method} ${opts.path}: ${opts.message}`, { cause: opts.cause });
    this.name = 'ApiError';
    this.status = opts.status;
    this.reason = opts.body?.reason ?? (opts.status === 0 ? 'Unreachable' : `HTTP${String(opts.status)}`);
    this.body = opts.body;
    this.method = opts.method;
    this.path = opts.path;
    this.retryAfterSeconds = opts.retryAfterSeconds ?? opts.body?.details?.retryAfterSeconds;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

export function isNotFound(err: unknown): boolean {
  return isApiError(err) && err.status === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return isApiError(err) && err.status === 409 && err.reason === 'AlreadyExists';
}

/** An optimistic-concurrency conflict (stale resourceVersion) or an SSA field conflict. */
export function isConflict(err: unknown): boolean {
  return isApiError(err) && err.status === 409 && err.reason !== 'AlreadyExists';
}

/** 410 Gone: a watch or list asked for a resourceVersion that etcd has compacted away. */
export function isGone(err: unknown): boolean {
  return isApiError(err) && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/**
 * Worth retrying as is: no answer, throttling, server-side trouble, or a stale write. A 4xx other than
 * 408/409/429 means the request itself is wrong and repeating it unchanged will not help (it is still retried
 * with backoff by the queue, because a CRD or an RBAC rule may appear later, but it is not "transient").
 */
export function isTransient(err: unknown): boolean {
  if (!isApiError(err)) return err instanceof Error && !(err instanceof RuntimeError);
  if (err.status === 0) return true;
  if (err.status === 408 || err.status === 429) return true;
  if (err.status === 409) return err.reason !== 'AlreadyExists';
  return err.status >= 500;
}

/** A short, log-safe description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
