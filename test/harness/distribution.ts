// CNCF Distribution 2.8 (Debian's docker-registry), the reference implementation; `version: 3` starts
// Distribution v3.1 instead (built by bench/install.sh; same `version: 0.1` config format).
import { launchRegistry, deepMerge, type ConfigObject, type RunningRegistry } from './registry.ts';
import { requireTool } from './tools.ts';

export interface DistributionOptions {
  root?: string;
  deleteEnabled?: boolean;
  config?: ConfigObject;
  /** Merged over the environment; an undefined value removes the variable. */
  env?: NodeJS.ProcessEnv;
  /** 2 (default): Debian's docker-registry 2.8; 3: Distribution v3.1 from .cache/bin. */
  version?: 2 | 3;
}

export function startDistribution(opts: DistributionOptions = {}): Promise<RunningRegistry> {
  const kind = opts.version === 3 ? 'distribution-v3' : 'distribution';
  const file = requireTool(kind);
  return launchRegistry({
    kind,
    file,
    args: (configPath) => ['serve', configPath],
    // v3 exports OpenTelemetry traces to localhost:4318 by default (errors in its log every few seconds
    // when nothing listens there); Berth and 2.8 trace nothing, so v3 runs with tracing off unless told.
    env: kind === 'distribution-v3' ? { OTEL_TRACES_EXPORTER: 'none', ...opts.env } : opts.env,
    root: opts.root,
    config: deepMerge({ storage: { delete: { enabled: opts.deleteEnabled ?? true } } }, opts.config ?? {}),
    readyStatuses: [200],
  });
}
