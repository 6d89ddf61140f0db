// Reading, comparing and writing single objects between two drivers.
//
// A target object must never look complete while it is not: a migration may be killed at any moment, and the
// next run (and a registry pointed at the target) judges objects by what is there.
//   - Small objects go through putContent, atomic on every driver by the interface's contract.
//   - Larger ones are streamed (reader → writer → commit, never whole in memory). Object-store writers (s3:
//     PutObject or CompleteMultipartUpload; gcs and azure: finalised upload or committed block list) and the
//     in-memory driver publish only at commit(), so a killed copy leaves nothing at the key. The filesystem
//     writer writes in place, so on a filesystem target the copy is streamed to a hidden staging file below
//     the root (`/.tmp-migrate/...`, which list() and walk() never show) and renamed into place with move().
import { createHash, randomBytes } from 'node:crypto';
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';

/** Objects up to this size are read whole and written with putContent (links, most manifests and configs). */
export const smallObjectLimit = 256 * 1024;

/** The hidden staging directory on filesystem targets (the driver hides names starting with `.tmp-`). */
export const stagingRoot = '/.tmp-migrate';
const stagingMaxAgeMs = 60 * 60 * 1000;

async function streamDigest(driver: StorageDriver, path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await driver.reader(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Whether two objects of equal size hold the same bytes. A missing object differs from anything. */
export async function sameContent(
  source: StorageDriver,
  target: StorageDriver,
  path: string,
  size: number,
): Promise<boolean> {
  try {
    if (size <= smallObjectLimit) {
      const [a, b] = await Promise.all([source.getContent(path), target.getContent(path)]);
      return a.equals(b);
    }
    const [a, b] = await Promise.all([streamDigest(source, path), streamDigest(target, path)]);
    return a === b;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

export class ObjectCopier {
  private readonly source: StorageDriver;
  private readonly target: StorageDriver;
  private readonly stage: boolean;
  private readonly runId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  private staged = 0;
  private stagingUsed = false;

  constructor(source: StorageDriver, target: StorageDriver) {
    this.source = source;
    this.target = target;
    this.stage = target.name === 'filesystem';
  }

  /**
   * Copies one object. Resolves to the bytes copied, or undefined when the source object is gone (deleted
   * since it was listed). `listedSize` picks the small-object path; the copy takes whatever is there now.
   */
  async copy(path: string, listedSize: number): Promise<number | undefined> {
    try {
      if (listedSize <= smallObjectLimit) {
        const content = await this.source.getContent(path);
        await this.target.putContent(path, content);
        return content.length;
      }
      return await this.stream(path);
    } catch (err) {
      if (isPathNotFound(err) && !(await this.exists(this.source, path))) return undefined;
      throw err;
    }
  }

  private async exists(driver: StorageDriver, path: string): Promise<boolean> {
    try {
      await driver.stat(path);
      return true;
    } catch (err) {
      if (isPathNotFound(err)) return false;
      throw err;
    }
  }

  private async stream(path: string): Promise<number> {
    const input = await this.source.reader(path);
    const dest = this.stage ? `${stagingRoot}/${this.runId}/${this.staged++}` : path;
    if (this.stage) this.stagingUsed = true;
    let writer;
    try {
      writer = await this.target.writer(dest, false);
    } catch (err) {
      input.destroy();
      throw err;
    }
    let written = 0;
    try {
      for await (const chunk of input) {
        const bytes = chunk as Buffer;
        await writer.write(bytes);
        written += bytes.length;
      }
      await writer.commit();
    } catch (err) {
      input.destroy();
      await writer.cancel().catch(() => undefined);
      throw err;
    }
    if (this.stage) {
      try {
        await this.target.move(dest, path);
      } catch (err) {
        await this.target.delete(dest).catch(() => undefined);
        throw err;
      }
    }
    return written;
  }

  /** Removes staging files this run left (after a failure) and ones killed runs left long ago. */
  async cleanUp(): Promise<void> {
    if (!this.stage) return;
    if (this.stagingUsed) await this.target.delete(`${stagingRoot}/${this.runId}`).catch(() => undefined);
    let runs: string[];
    try {
      runs = await this.target.list(stagingRoot);
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
    const cutoff = Date.now() - stagingMaxAgeMs;
    for (const run of runs) {
      const info = await this.target.stat(run).catch(() => undefined);
      if (info && info.modTime.getTime() < cutoff) await this.target.delete(run).catch(() => undefined);
    }
  }
}
