// Polls files for content changes. Polling (not fs.watch) because Kubernetes updates mounted Secrets and
// ConfigMaps by swapping a symlinked directory, which fs.watch on the file does not report; and comparing a
// content hash (not mtime) catches two writes within one timestamp tick.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface FileWatcher {
  /** Re-reads the fingerprints now (e.g. after a reload triggered elsewhere), without calling onChange. */
  reset(): Promise<void>;
  close(): void;
}

async function fingerprint(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    try {
      hash.update(await readFile(path));
    } catch (err) {
      hash.update(`missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Calls onChange (never concurrently) when the content of any path changes. onChange errors are passed to
 * onError and the change is retried on the next poll, so a half-written file is picked up once complete.
 */
export async function watchFiles(
  paths: readonly string[],
  intervalMs: number,
  onChange: () => Promise<void>,
  onError: (err: unknown) => void,
): Promise<FileWatcher> {
  let last = await fingerprint(paths);
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      try {
        const current = await fingerprint(paths);
        if (current === last) return;
        await onChange();
        last = current;
      } catch (err) {
        onError(err);
      } finally {
        running = false;
      }
    })();
  }, intervalMs);
  timer.unref();
  return {
    reset: async () => {
      last = await fingerprint(paths);
    },
    close: () => clearInterval(timer),
  };
}
