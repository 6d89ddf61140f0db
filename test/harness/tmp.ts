// Temp dirs that are removed when the test process ends, whatever happens.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keepTempDirs, trackDir, removeDirSync } from './cleanup.ts';

/** A fresh dir under the system temp dir (short paths: dockerd puts unix sockets in here). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `berth-${prefix}-`));
  trackDir(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  if (keepTempDirs) {
    removeDirSync(dir);
    return;
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  removeDirSync(dir);
}
