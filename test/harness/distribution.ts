// CNCF Distribution 2.8 (Debian's docker-registry), the reference implementation.
import { launchRegistry, deepMerge, type ConfigObject, type RunningRegistry } from './registry.ts';
import { requireTool } from './tools.ts';

export interface DistributionOptions {
  root?: string;
  deleteEnabled?: boolean;
  config?: ConfigObject;
  /** Merged over the environment; an undefined value removes the variable. */
  env?: NodeJS.ProcessEnv;
}

export function startDistribution(opts: DistributionOptions = {}): Promise<RunningRegistry> {
  const file = requireTool('distribution');
  return launchRegistry({
    kind: 'distribution',
    file,
    args: (configPath) => ['serve', configPath],
    env: opts.env,
    root: opts.root,
    config: deepMerge({ storage: { delete: { enabled: opts.deleteEnabled ?? true } } }, opts.config ?? {}),
    readyStatuses: [200],
  });
}
