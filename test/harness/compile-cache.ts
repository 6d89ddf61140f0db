// Node's compile cache as the image has it: filled while the image is built (Dockerfile, by
// image/warm-compile-cache.ts as a preload of `berth-registry --help` and `berth-operator --help`), so the
// tests and benches can run Berth's processes as a pod starts them. Node keys the cache by its V8 flags, so it is filled
// under the same flags as the process that reads it.
import path from 'node:path';
import { exec } from './exec.ts';
import { operatorNodeFlags, registryNodeFlags, repoRoot, tools } from './tools.ts';

export const warmCompileCacheScript = path.join(repoRoot, 'image/warm-compile-cache.ts');

/** Fills `dir` as the Dockerfile fills the image's NODE_COMPILE_CACHE (every registry and operator module). */
export async function fillImageCompileCache(dir: string): Promise<void> {
  const env = { ...process.env, NODE_COMPILE_CACHE: dir, NODE_OPTIONS: `--import=${warmCompileCacheScript}` };
  const commands: [readonly string[], string][] = [
    [registryNodeFlags, 'registry/cli.ts'],
    [operatorNodeFlags, 'operator/cli.ts'],
  ];
  for (const [flags, entry] of commands) {
    await exec(tools.node, [...flags, path.join(repoRoot, entry), '--help'], {
      env,
      cwd: repoRoot,
      timeoutMs: 120_000,
    });
  }
}
