// Fans each event out to the enabled endpoints of `notifications.endpoints`, after their ignore rules. Events
// get their id, timestamp and source here, once, so every endpoint receives the same event.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { parseDuration, type RegistryConfig } from '../config/schema.ts';
import { completeEvent, type EventDraft, type NotificationEvent, type SourceRecord } from './envelope.ts';
import { EndpointQueue, type EndpointSettings } from './endpoint-queue.ts';
import type { EndpointHealth } from '../http/notifications-api.ts';
import { ignoredBy } from './ignore-rules.ts';
import { createNotificationMetrics } from './metrics.ts';

type EndpointConfig = RegistryConfig['notifications']['endpoints'][number];

/** Events waiting per endpoint before the oldest is dropped (about 1 KiB each). */
export const defaultQueueLimit = 1000;

/** Distribution's default `timeout`. */
const defaultTimeoutMs = 1000;

/** What request handlers publish to; absent when no endpoint is enabled. */
export interface Notifier {
  /** `events.includereferences`: manifest events list what the manifest references. */
  readonly includeReferences: boolean;
  publish(draft: EventDraft): void;
  /** Each enabled endpoint's delivery figures, since this process started. */
  health(): EndpointHealth[];
}

export interface DispatcherOptions {
  endpoints: readonly EndpointConfig[];
  includeReferences: boolean;
  /** The listen port, for the events' `source.addr` (`<hostname>:<port>`, as Distribution). */
  port: number;
  metrics: Registry;
  logger: Logger;
  queueLimit?: number;
}

export class Dispatcher implements Notifier {
  private readonly routes: { ignores: (event: NotificationEvent) => boolean; queue: EndpointQueue }[];
  private readonly source: SourceRecord;
  readonly includeReferences: boolean;

  constructor(options: DispatcherOptions) {
    this.includeReferences = options.includeReferences;
    const metrics = createNotificationMetrics(options.metrics);
    const log = options.logger.child({ component: 'notifications' });
    this.source = { addr: `${hostname()}:${options.port}`, instanceID: randomUUID() };
    this.routes = options.endpoints
      .filter((endpoint) => !endpoint.disabled)
      .map((endpoint) => ({
        ignores: ignoredBy(endpoint),
        queue: new EndpointQueue(
          endpointSettings(endpoint, options.queueLimit ?? defaultQueueLimit),
          metrics,
          log,
        ),
      }));
  }

  get enabled(): boolean {
    return this.routes.length > 0;
  }

  publish(draft: EventDraft): void {
    if (this.routes.length === 0) return;
    const event = completeEvent(draft, this.source);
    for (const { ignores, queue } of this.routes) if (!ignores(event)) queue.push(event);
  }

  health(): EndpointHealth[] {
    return this.routes.map(({ queue }) => queue.health());
  }

  /** Stops taking events; what is queued gets `graceMs` to be delivered, in parallel across endpoints. */
  async close(graceMs: number): Promise<void> {
    await Promise.all(this.routes.map(({ queue }) => queue.close(graceMs)));
  }
}

export function endpointSettings(endpoint: EndpointConfig, queueLimit: number): EndpointSettings {
  return {
    name: endpoint.name,
    url: endpoint.url,
    headers: endpoint.headers,
    // Go reads 0 as "no timeout"; an endpoint that never answers would then hold its queue forever.
    timeoutMs: parseDuration(endpoint.timeout) || defaultTimeoutMs,
    threshold: endpoint.threshold,
    backoffMs: parseDuration(endpoint.backoff),
    maxRetries: endpoint.maxretries,
    queueLimit,
  };
}
