// The bench's own tools beyond the test harness's (which provides docker-registry): Debian's wrk and curl,
// and Distribution v3.1 (built from the Go module proxy into .cache/bin). When one is missing,
// bench/install.sh installs it; if that fails, the message says what to do.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { exec } from '../test/harness/exec.ts';
import { repoRoot, tools } from '../test/harness/tools.ts';

export const benchTools = {
  wrk: '/usr/bin/wrk',
  curl: '/usr/bin/curl',
  'distribution-v3': tools['distribution-v3'],
} as const;
export type BenchTool = keyof typeof benchTools;

const installScript = path.join(repoRoot, 'bench/install.sh');

export async function ensureBenchTools(needed: readonly BenchTool[]): Promise<void> {
  const missing = needed.filter((t) => !existsSync(benchTools[t]));
  if (missing.length === 0) return;
  process.stderr.write(`[bench] missing ${missing.join(', ')}; running bench/install.sh\n`);
  try {
    await exec('bash', [installScript], { timeoutMs: 600_000 });
  } catch (err) {
    throw new Error(
      `the bench needs ${missing.join(' and ')} and bench/install.sh could not install them ` +
        `(run it as root; it needs apt-get for wrk and curl, Go for distribution-v3): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const still = missing.filter((t) => !existsSync(benchTools[t]));
  if (still.length > 0)
    throw new Error(
      `bench/install.sh ran but ${still.map((t) => benchTools[t]).join(', ')} is still missing`,
    );
}
