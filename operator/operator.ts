// The berth-operator process: configuration (environment, as the Helm chart sets it, with command-line flags
// taking precedence), the runtime (client, informers, leader election, controllers), the probe/metrics server,
// pino JSON logs and graceful shutdown.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { parseDuration } from '../registry/config/schema.ts';
import { setupCleanupPolicyController } from './operations/cleanup/controller.ts';
import { setupGarbageCollectionController } from './operations/garbage-collection/controller.ts';
import { setupStorageMigrationController } from './operations/storage-migration/controller.ts';
import { setupNotificationsController } from './operations/notifications/controller.ts';
import { setupUsageController } from './operations/usage/controller.ts';
import { setupContainerRegistryController } from './reconcile/container-registry-controller.ts';
import { setupTokenReviewersController } from './reconcile/token-reviewers.ts';
import { KubeClient } from './runtime/kube-client.ts';
import { createLogger, type LogLevel } from './runtime/logger.ts';
import { Manager } from './runtime/manager.ts';
import { createMetrics } from './runtime/metrics.ts';
import { buildProbeServer, parseListenAddress } from './runtime/server.ts';

export const usage = `usage: berth-operator [options]

Runs the Berth operator: reconciles ContainerRegistry objects into running registries.
Every option also has an environment variable (the Helm chart sets those); an option wins over its variable.

  --kubeconfig PATH          kubeconfig file (env KUBECONFIG); default: in-cluster credentials
  --namespace NS             namespace of the leader Lease (env BERTH_NAMESPACE; default: the pod's namespace)
  --watch-namespaces A,B     watch only these namespaces (env BERTH_WATCH_NAMESPACES; default: all)
  --leader-election BOOL     campaign for the Lease before acting (env BERTH_LEADER_ELECTION; default true)
  --lease-name NAME          the Lease (env BERTH_LEASE_NAME; default berth-operator-leader)
  --identity ID              leader-election identity (default: BERTH_POD_NAME or the host name, plus a random suffix)
  --registry-image IMAGE     image of registry pods when spec.image is unset (env BERTH_REGISTRY_IMAGE)
  --http-addr ADDR           /healthz, /readyz, /metrics listen address (env BERTH_HTTP_ADDR; default :8080)
  --log-level LEVEL          error, warn, info, debug (env BERTH_LOG_LEVEL; default info)
  --token-reviewer-cluster-role NAME, --token-reviewer-binding NAME
                             keep that ClusterRoleBinding listing token issuers (env BERTH_TOKEN_REVIEWER_*)
  --maintenance-confirm-timeout DURATION
                             longest wait for every registry pod to confirm a switch to or from read-only
                             before a maintenance run gives up (env BERTH_MAINTENANCE_CONFIRM_TIMEOUT;
                             default 4m; the kubelet may take a minute to refresh a pod's config)
Tuning (mostly for tests): --lease-duration-ms, --renew-deadline-ms, --retry-period-ms, --resync-ms,
  --watch-quiet-ms, --concurrency (env BERTH_LEASE_DURATION_MS, ... BERTH_CONCURRENCY)
`;

export interface OperatorConfig {
  kubeconfig: string | undefined;
  namespace: string;
  watchNamespaces: string[];
  leaderElection: boolean;
  leaseName: string;
  identity: string;
  registryImage: string;
  httpAddr: string;
  logLevel: LogLevel;
  tokenReviewerClusterRole: string | undefined;
  tokenReviewerBinding: string | undefined;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  resyncMs: number;
  watchQuietMs: number;
  concurrency: number;
  maintenanceConfirmTimeoutMs: number;
}

export class ConfigError extends Error {}

/** `--help`: the usage goes to stdout and the program exits 0 (it is not an error). */
export class HelpRequested extends ConfigError {}

const inClusterNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function bool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(v)}`);
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ConfigError(`${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** A Go-style duration (30s, 4m) of at least a second. */
function duration(name: string, v: string): number {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch {
    ms = Number.NaN;
  }
  if (!(ms >= 1000))
    throw new ConfigError(`${name}: expected a duration of 1s or more (e.g. 4m), got ${JSON.stringify(v)}`);
  return ms;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function parseOperatorConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'watch-namespaces': { type: 'string' },
      'leader-election': { type: 'string' },
      'lease-name': { type: 'string' },
      identity: { type: 'string' },
      'registry-image': { type: 'string' },
      'http-addr': { type: 'string' },
      'log-level': { type: 'string' },
      'token-reviewer-cluster-role': { type: 'string' },
      'token-reviewer-binding': { type: 'string' },
      'lease-duration-ms': { type: 'string' },
      'renew-deadline-ms': { type: 'string' },
      'retry-period-ms': { type: 'string' },
      'resync-ms': { type: 'string' },
      'watch-quiet-ms': { type: 'string' },
      concurrency: { type: 'string' },
      'maintenance-confirm-timeout': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) throw new HelpRequested(usage);
  if (positionals.length > 0)
    throw new ConfigError(`unexpected argument ${JSON.stringify(positionals[0])}\n${usage}`);
  const pick = (flag: keyof typeof values, envName: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName];
    return e === undefined || e === '' ? undefined : e;
  };
  const namespace =
    pick('namespace', 'BERTH_NAMESPACE') ??
    (existsSync(inClusterNamespaceFile) ? readFileSync(inClusterNamespaceFile, 'utf8').trim() : 'default');
  const logLevel = (pick('log-level', 'BERTH_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!(logLevels as readonly string[]).includes(logLevel))
    throw new ConfigError(`log level ${logLevel}: expected one of ${logLevels.join(', ')}`);
  const int = (flag: keyof typeof values, envName: string, def: number) => {
    const v = pick(flag, envName);
    return v === undefined ? def : positiveInt(`--${String(flag)}`, v);
  };
  const registryImage = pick('registry-image', 'BERTH_REGISTRY_IMAGE') ?? 'berth:latest';
  const identityBase =
    pick('identity', 'BERTH_IDENTITY') ??
    `${env['BERTH_POD_NAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`;
  return {
    kubeconfig: pick('kubeconfig', 'KUBECONFIG'),
    namespace,
    watchNamespaces: (pick('watch-namespaces', 'BERTH_WATCH_NAMESPACES') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    leaderElection: bool('--leader-election', pick('leader-election', 'BERTH_LEADER_ELECTION') ?? 'true'),
    leaseName: pick('lease-name', 'BERTH_LEASE_NAME') ?? 'berth-operator-leader',
    identity: identityBase,
    registryImage,
    httpAddr: pick('http-addr', 'BERTH_HTTP_ADDR') ?? ':8080',
    logLevel,
    tokenReviewerClusterRole: pick('token-reviewer-cluster-role', 'BERTH_TOKEN_REVIEWER_CLUSTER_ROLE'),
    tokenReviewerBinding: pick('token-reviewer-binding', 'BERTH_TOKEN_REVIEWER_BINDING'),
    leaseDurationMs: int('lease-duration-ms', 'BERTH_LEASE_DURATION_MS', 15_000),
    renewDeadlineMs: int('renew-deadline-ms', 'BERTH_RENEW_DEADLINE_MS', 10_000),
    retryPeriodMs: int('retry-period-ms', 'BERTH_RETRY_PERIOD_MS', 2_000),
    resyncMs: int('resync-ms', 'BERTH_RESYNC_MS', 300_000),
    watchQuietMs: int('watch-quiet-ms', 'BERTH_WATCH_QUIET_MS', 120_000),
    // ContainerRegistry reconciles at once. 4 rather than 8: 200 registries converge in ~26 s instead of
    // ~15-20, and the burst's peak RSS is 144-145 MiB instead of 150-156 (bench/README.md, "Operator").
    concurrency: int('concurrency', 'BERTH_CONCURRENCY', 4),
    maintenanceConfirmTimeoutMs: duration(
      '--maintenance-confirm-timeout',
      pick('maintenance-confirm-timeout', 'BERTH_MAINTENANCE_CONFIRM_TIMEOUT') ?? '4m',
    ),
  };
}

export interface RunningOperator {
  readonly manager: Manager;
  readonly address: string;
  readonly logger: Logger;
  /** Graceful stop: finish reconciles, release the Lease, stop informers and the HTTP server. */
  stop(): Promise<void>;
  /** Resolves when the operator has stopped (by stop(), or because it lost leadership). */
  readonly done: Promise<{ lostLeadership: boolean }>;
}

export async function startOperator(
  config: OperatorConfig,
  logger: Logger = createLogger(config.logLevel),
): Promise<RunningOperator> {
  const metrics = createMetrics();
  const client = KubeClient.load(config.kubeconfig);
  let resolveDone: (v: { lostLeadership: boolean }) => void = () => undefined;
  const done = new Promise<{ lostLeadership: boolean }>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  const manager = new Manager({
    client,
    logger,
    metrics,
    watchNamespaces: config.watchNamespaces,
    informerDefaults: { resyncMs: config.resyncMs, quietTimeoutMs: config.watchQuietMs },
    leaderElection: config.leaderElection
      ? {
          namespace: config.namespace,
          name: config.leaseName,
          identity: config.identity,
          leaseDurationMs: config.leaseDurationMs,
          renewDeadlineMs: config.renewDeadlineMs,
          retryPeriodMs: config.retryPeriodMs,
        }
      : false,
    onLostLeadership: () => {
      logger.error('lost the leader Lease; exiting so a fresh process can campaign again');
      void stop().then(() => resolveDone({ lostLeadership: true }));
    },
  });
  setupContainerRegistryController(manager, {
    defaultImage: config.registryImage,
    concurrency: config.concurrency,
  });
  setupGarbageCollectionController(manager, {
    limits: { proofTimeoutMs: config.maintenanceConfirmTimeoutMs },
  });
  setupStorageMigrationController(manager, {
    limits: { proofTimeoutMs: config.maintenanceConfirmTimeoutMs },
  });
  const cleanup = setupCleanupPolicyController(manager, { watchNamespaces: config.watchNamespaces });
  setupUsageController(manager);
  setupNotificationsController(manager);
  if (config.tokenReviewerClusterRole !== undefined && config.tokenReviewerBinding !== undefined) {
    setupTokenReviewersController(manager, {
      clusterRole: config.tokenReviewerClusterRole,
      binding: config.tokenReviewerBinding,
    });
  }

  const server = buildProbeServer({
    ready: () => manager.ready(),
    info: () => ({ leader: manager.isLeader(), identity: config.identity }),
    registry: metrics.registry,
  });
  const { host, port } = parseListenAddress(config.httpAddr);
  const address = await server.listen({ host, port });
  manager.start();
  logger.info(
    {
      address,
      identity: config.identity,
      leaderElection: config.leaderElection,
      lease: config.leaderElection ? `${config.namespace}/${config.leaseName}` : undefined,
      watchNamespaces: config.watchNamespaces.length > 0 ? config.watchNamespaces : 'all',
      registryImage: config.registryImage,
    },
    'berth-operator started',
  );

  function stop(): Promise<void> {
    stopping ??= (async () => {
      logger.info('shutting down');
      cleanup.stop(); // a cleanup run stops deleting; the next leader runs it again
      await manager.stop();
      await server.close();
      client.close();
      logger.info('stopped');
    })();
    return stopping;
  }

  return {
    manager,
    address,
    logger,
    stop: async () => {
      await stop();
      resolveDone({ lostLeadership: false });
    },
    done,
  };
}
