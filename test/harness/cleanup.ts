// Last-resort cleanup: whatever a test file started is gone when its process ends, even when a test
// failed, timed out or the run was interrupted. Normal teardown happens in each file's `after` hook;
// this only catches what that missed.
import { rmSync } from 'node:fs';

const groups = new Set<number>();
const dirs = new Set<string>();
let installed = false;

/** Keep temp dirs after the run (for debugging a failure); their paths are printed instead. */
export const keepTempDirs = process.env['BERTH_E2E_KEEP'] === '1';

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const pid of groups) killGroup(pid, 'SIGKILL');
    for (const dir of dirs) removeDirSync(dir);
  });
  // Turn signals into a normal exit so the 'exit' hook above runs.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)));
  }
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function trackGroup(pid: number): void {
  install();
  groups.add(pid);
}

export function untrackGroup(pid: number): void {
  groups.delete(pid);
}

export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function removeDirSync(dir: string): void {
  dirs.delete(dir);
  if (keepTempDirs) {
    process.stderr.write(`[harness] keeping ${dir} (BERTH_E2E_KEEP=1)\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
