// Berth's registry as a real child process: `node registry/cli.ts serve CONFIG`, exactly as a user runs it.
import { launchRegistry, type ConfigObject, type RunningRegistry } from './registry.ts';
import { registryNodeFlags, repoRoot, requireTool } from './tools.ts';

export interface BerthOptions {
  root?: string;
  /** Merged over the generated Distribution-style config.yml. */
  config?: ConfigObject;
  env?: NodeJS.ProcessEnv;
}

export function startBerth(opts: BerthOptions = {}): Promise<RunningRegistry> {
  const node = requireTool('node');
  return launchRegistry({
    kind: 'berth',
    file: node,
    args: (configPath) => [...registryNodeFlags, 'registry/cli.ts', 'serve', configPath],
    cwd: repoRoot,
    env: opts.env,
    root: opts.root,
    config: opts.config,
    // 401: a config with auth.token still counts as up.
    readyStatuses: [200, 401],
  });
}
