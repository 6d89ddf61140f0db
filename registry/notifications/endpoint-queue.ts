// One endpoint's deliveries: a bounded in-memory queue drained by a single loop, one event per POST (as
// Distribution's httpSink does), in publish order. A request only ever appends to the queue, so a slow or dead
// endpoint costs pushes nothing; memory is bounded by `queueLimit` (the oldest event waiting is dropped).
//
// Retries follow Distribution's breaker: after `threshold` consecutive failures every retry first waits
// `backoff`. GitLab's `maxretries`, when set, drops an event after that many retries; unset, an event is retried
// until it is delivered or pushed out of the queue.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { envelopeBody, eventsMediaType, type NotificationEvent } from './envelope.ts';
import type { EndpointHealth } from '../http/notifications-api.ts';
import type { DropReason, NotificationMetrics } from './metrics.ts';

export interface EndpointSettings {
  name: string;
  url: string;
  headers: Record<string, string[]>;
  timeoutMs: number;
  threshold: number;
  backoffMs: number;
  maxRetries: number | undefined;
  queueLimit: number;
}

interface Pending {
  event: NotificationEvent;
  failures: number;
}

export class EndpointQueue {
  private readonly queue: Pending[] = [];
  private inFlight: Pending | undefined;
  private consecutiveFailures = 0;
  /** Events dropped since the endpoint last accepted one: reported once, when it recovers. */
  private droppedWhileFailing = 0;
  /** What health() reports, since this process started (the metrics' counters, plus when and why). */
  private readonly totals = { sent: 0, failed: 0, dropped: 0 };
  private lastFailure: string | undefined;
  private lastSuccess: Date | undefined;
  private failingSince: Date | undefined;
  private accepting = true;
  private stopped = false;
  private wake: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly stop = new AbortController();
  private readonly requestHeaders: Record<string, string>;
  private readonly loop: Promise<void>;

  private readonly settings: EndpointSettings;
  private readonly metrics: NotificationMetrics;
  private readonly log: Logger;

  constructor(settings: EndpointSettings, metrics: NotificationMetrics, log: Logger) {
    this.settings = settings;
    this.metrics = metrics;
    this.log = log;
    this.requestHeaders = {};
    for (const [name, values] of Object.entries(settings.headers))
      this.requestHeaders[name] = values.join(', ');
    this.requestHeaders['content-type'] = eventsMediaType;
    // Zeroed series, so a dashboard sees the endpoint before its first event.
    const endpoint = settings.name;
    metrics.pending.set({ endpoint }, 0);
    metrics.sent.inc({ endpoint }, 0);
    metrics.failed.inc({ endpoint }, 0);
    this.loop = this.run();
  }

  get pending(): number {
    return this.queue.length;
  }

  health(): EndpointHealth {
    return {
      name: this.settings.name,
      healthy: this.consecutiveFailures === 0,
      pending: this.queue.length,
      ...this.totals,
      consecutiveFailures: this.consecutiveFailures,
      ...(this.lastFailure !== undefined ? { lastFailure: this.lastFailure } : {}),
      ...(this.lastSuccess ? { lastSuccessTime: this.lastSuccess.toISOString() } : {}),
      ...(this.failingSince ? { failingSince: this.failingSince.toISOString() } : {}),
    };
  }

  push(event: NotificationEvent): void {
    if (!this.accepting) return;
    if (this.queue.length >= this.settings.queueLimit) {
      // The oldest event that is not being sent right now.
      const oldest = this.queue[0] === this.inFlight ? 1 : 0;
      if (this.queue.length > oldest) {
        this.queue.splice(oldest, 1);
        this.dropped('overflow', 1);
      }
    }
    this.queue.push({ event, failures: 0 });
    this.updatePending();
    this.wake?.();
  }

  /** Stops taking events and gives the queued ones up to `graceMs` to be delivered; the rest are dropped. */
  async close(graceMs: number): Promise<void> {
    this.accepting = false;
    if (this.queue.length > 0) {
      const grace = new AbortController();
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        sleep(graceMs, undefined, { signal: grace.signal }).catch(() => undefined),
      ]);
      grace.abort();
    }
    this.stopped = true;
    this.stop.abort();
    this.wake?.();
    await this.loop;
    if (this.queue.length > 0) {
      this.log.warn(
        { endpoint: this.settings.name, dropped: this.queue.length },
        'notifications not delivered before shutdown',
      );
      this.dropped('shutdown', this.queue.length);
      this.queue.length = 0;
      this.updatePending();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const head = this.queue[0];
      if (!head) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.inFlight = head;
      const failure = await this.deliver(head.event);
      this.inFlight = undefined;
      if (failure === undefined) {
        this.remove(head);
        this.metrics.sent.inc({ endpoint: this.settings.name });
        this.totals.sent++;
        this.lastSuccess = new Date();
        this.recovered();
        continue;
      }
      // A delivery cut by close is neither a failure nor retried: close counts what is left as dropped.
      if (this.stopped) return;
      this.failed(head, failure);
      if (this.consecutiveFailures >= this.settings.threshold) {
        await sleep(this.settings.backoffMs, undefined, { signal: this.stop.signal }).catch(() => undefined);
      }
    }
  }

  /** Posts one event; resolves with why it failed, or undefined when the endpoint accepted it. */
  private async deliver(event: NotificationEvent): Promise<string | undefined> {
    try {
      const res = await fetch(this.settings.url, {
        method: 'POST',
        headers: this.requestHeaders,
        body: envelopeBody([event]),
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.stop.signal]),
      });
      await res.body?.cancel();
      // Distribution's httpSink accepts 2xx and 3xx.
      return res.status < 400 ? undefined : `status ${res.status}`;
    } catch (err) {
      return failureReason(err);
    }
  }

  private failed(item: Pending, reason: string): void {
    const endpoint = this.settings.name;
    this.metrics.failed.inc({ endpoint });
    this.totals.failed++;
    this.lastFailure = reason;
    item.failures++;
    this.consecutiveFailures++;
    if (this.consecutiveFailures === 1) this.failingSince = new Date();
    // Logged once per outage, with no URL or header values (either may carry credentials).
    if (this.consecutiveFailures === 1) {
      this.log.warn({ endpoint, reason, pending: this.queue.length }, 'notification endpoint failing');
    }
    if (this.settings.maxRetries !== undefined && item.failures > this.settings.maxRetries) {
      this.remove(item);
      this.dropped('retries', 1);
    }
  }

  private recovered(): void {
    if (this.consecutiveFailures > 0) {
      this.log.info(
        {
          endpoint: this.settings.name,
          failedAttempts: this.consecutiveFailures,
          dropped: this.droppedWhileFailing,
        },
        'notification endpoint recovered',
      );
    }
    this.consecutiveFailures = 0;
    this.droppedWhileFailing = 0;
    this.failingSince = undefined;
  }

  private remove(item: Pending): void {
    const index = this.queue.indexOf(item);
    if (index !== -1) this.queue.splice(index, 1);
    this.updatePending();
  }

  private dropped(reason: DropReason, count: number): void {
    this.metrics.dropped.inc({ endpoint: this.settings.name, reason }, count);
    this.totals.dropped += count;
    this.droppedWhileFailing += count;
  }

  private updatePending(): void {
    this.metrics.pending.set({ endpoint: this.settings.name }, this.queue.length);
  }
}

/** A short reason for the logs and health(): an error code or name, never the request (its URL or headers). */
function failureReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  const name = (err as Error).name;
  return name === 'TimeoutError' ? 'timeout' : name;
}
