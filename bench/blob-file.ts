// The blobs the bench pushes: random (incompressible) files written once per run, with their sha256
// computed while writing, so no client ever hashes during a timed request.
import { createHash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';

export interface BlobFile {
  file: string;
  size: number;
  digest: string;
}

const bufferSize = 16 * 1024 * 1024;

export async function writeBlobFile(dir: string, name: string, size: number): Promise<BlobFile> {
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const handle = await open(file, 'wx');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(bufferSize, size));
    for (let written = 0; written < size;) {
      const part = buffer.subarray(0, Math.min(buffer.length, size - written));
      randomFillSync(part);
      hash.update(part);
      await handle.write(part, 0, part.length, written);
      written += part.length;
    }
    // Flushed now so the kernel's writeback of these files does not land inside a timed push.
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { file, size, digest: `sha256:${hash.digest('hex')}` };
}
