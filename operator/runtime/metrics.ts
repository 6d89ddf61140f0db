// The operator's Prometheus metrics (prom-client, a private registry so tests can create several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly reconcileErrors: Counter<'controller' | 'code'>;
  readonly queueDepth: Gauge<'controller'>;
  readonly queueRetries: Counter<'controller'>;
  readonly leader: Gauge;
  readonly informerRelists: Counter<'kind'>;
  readonly watchRestarts: Counter<'kind' | 'reason'>;
  readonly informerObjects: Gauge<'kind'>;
  readonly applies: Counter<'kind' | 'changed'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'berth_operator_' });
  const registers = [registry];
  return {
    registry,
    reconcileTotal: new Counter({
      name: 'berth_operator_reconcile_total',
      help: 'Reconciles by controller and result (success, requeue, invalid, error).',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'berth_operator_reconcile_duration_seconds',
      help: 'How long one reconcile took.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'berth_operator_reconcile_errors_total',
      help: 'Failed reconciles by controller and error code.',
      labelNames: ['controller', 'code'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'berth_operator_queue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['controller'],
      registers,
    }),
    queueRetries: new Counter({
      name: 'berth_operator_queue_retries_total',
      help: 'Keys re-queued with backoff after a failure.',
      labelNames: ['controller'],
      registers,
    }),
    leader: new Gauge({
      name: 'berth_operator_leader',
      help: '1 while this process holds the leader Lease.',
      registers,
    }),
    informerRelists: new Counter({
      name: 'berth_operator_informer_relists_total',
      help: 'Full lists done by informers (start, periodic resync, recovery).',
      labelNames: ['kind'],
      registers,
    }),
    watchRestarts: new Counter({
      name: 'berth_operator_watch_restarts_total',
      help: 'Watches restarted, by reason (quiet = the watchdog found it stalled).',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    informerObjects: new Gauge({
      name: 'berth_operator_informer_objects',
      help: 'Objects in each informer cache.',
      labelNames: ['kind'],
      registers,
    }),
    applies: new Counter({
      name: 'berth_operator_applies_total',
      help: 'Server-side applies of child objects, by kind and whether the object changed.',
      labelNames: ['kind', 'changed'],
      registers,
    }),
  };
}
