// Per-endpoint delivery metrics, registered in the app's prom-client registry (served on /metrics).
import { Counter, Gauge, type Registry } from 'prom-client';

export type DropReason = 'overflow' | 'retries' | 'shutdown';

export interface NotificationMetrics {
  pending: Gauge<'endpoint'>;
  sent: Counter<'endpoint'>;
  /** Failed delivery attempts (an event retried three times counts three). */
  failed: Counter<'endpoint'>;
  dropped: Counter<'endpoint' | 'reason'>;
}

export function createNotificationMetrics(registry: Registry): NotificationMetrics {
  return {
    pending: new Gauge({
      name: 'registry_notifications_pending',
      help: 'Events queued for an endpoint and not yet delivered',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    sent: new Counter({
      name: 'registry_notifications_sent_total',
      help: 'Events an endpoint accepted (2xx or 3xx)',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    failed: new Counter({
      name: 'registry_notifications_failed_total',
      help: 'Delivery attempts that failed (connection error, timeout or a status of 400 or more)',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'registry_notifications_dropped_total',
      help: 'Events given up: the queue overflowed (oldest dropped), maxretries was reached, or shutdown',
      labelNames: ['endpoint', 'reason'],
      registers: [registry],
    }),
  };
}
