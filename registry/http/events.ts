// Turns a request that succeeded into a notification event draft (Distribution's bridge.go): who asked (request,
// actor) and what it was about (target, with the URL a client would fetch it from).
import type { FastifyRequest } from 'fastify';
import type { EventAction, EventTarget, RequestRecord } from '../notifications/envelope.ts';
import type { HandlerContext } from './context.ts';

/** What a handler says about the object an event is about. */
export type EventSubject =
  | {
      kind: 'manifest';
      repository: string;
      digest: string;
      mediaType: string;
      content: Buffer;
      tag?: string;
    }
  | { kind: 'blob'; repository: string; digest: string; size: number; fromRepository?: string }
  | { kind: 'deleted'; repository: string; digest?: string; tag?: string };

/** Distribution describes every blob as an opaque octet stream. */
const blobMediaType = 'application/octet-stream';

export function publishEvent(ctx: HandlerContext, action: EventAction, subject: EventSubject): void {
  const notifier = ctx.services.notifier;
  if (!notifier) return;
  notifier.publish({
    action,
    target: eventTarget(ctx.request, subject, notifier.includeReferences),
    request: requestRecord(ctx.request),
    actor: ctx.auth.subject !== undefined ? { name: ctx.auth.subject } : {},
  });
}

function eventTarget(
  request: FastifyRequest,
  subject: EventSubject,
  includeReferences: boolean,
): EventTarget {
  const { repository } = subject;
  switch (subject.kind) {
    case 'deleted':
      return {
        repository,
        ...(subject.digest !== undefined ? { digest: subject.digest } : {}),
        ...(subject.tag !== undefined ? { tag: subject.tag } : {}),
      };
    case 'manifest':
      return {
        mediaType: subject.mediaType,
        digest: subject.digest,
        size: subject.content.length,
        length: subject.content.length,
        repository,
        url: `${baseURL(request)}/v2/${repository}/manifests/${subject.digest}`,
        ...(subject.tag !== undefined ? { tag: subject.tag } : {}),
        ...(includeReferences ? { references: manifestReferences(subject.content) } : {}),
      };
    case 'blob':
      return {
        mediaType: blobMediaType,
        digest: subject.digest,
        size: subject.size,
        length: subject.size,
        repository,
        ...(subject.fromRepository !== undefined ? { fromRepository: subject.fromRepository } : {}),
        url: `${baseURL(request)}/v2/${repository}/blobs/${subject.digest}`,
      };
  }
}

/** As Distribution's Manifest.References(): an image's config then its layers, or an index's manifests. */
function manifestReferences(content: Buffer): unknown[] {
  // The bytes were validated when they were pushed; only the descriptor lists are read here.
  const body = JSON.parse(content.toString('utf8')) as {
    config?: unknown;
    layers?: unknown[];
    manifests?: unknown[];
  };
  if (Array.isArray(body.manifests)) return body.manifests;
  return [...(body.config !== undefined ? [body.config] : []), ...(body.layers ?? [])];
}

function requestRecord(request: FastifyRequest): RequestRecord {
  return {
    id: request.id,
    addr: remoteAddr(request),
    host: request.headers.host ?? '',
    method: request.method,
    useragent: request.headers['user-agent'] ?? '',
  };
}

/** Distribution's RemoteAddr: X-Real-Ip, else the first X-Forwarded-For, else the peer's address and port. */
function remoteAddr(request: FastifyRequest): string {
  const realIp = firstHeader(request, 'x-real-ip');
  if (realIp) return realIp;
  const forwarded = firstHeader(request, 'x-forwarded-for');
  if (forwarded) return forwarded;
  const { remoteAddress, remotePort } = request.socket;
  if (remoteAddress === undefined) return '';
  return remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
}

/** The scheme and host clients used, behind a proxy too (X-Forwarded-Proto/-Host), as Distribution's urls. */
function baseURL(request: FastifyRequest): string {
  const proto = firstHeader(request, 'x-forwarded-proto') ?? request.protocol;
  const host = firstHeader(request, 'x-forwarded-host') ?? request.headers.host ?? '';
  return `${proto}://${host}`;
}

function firstHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}
