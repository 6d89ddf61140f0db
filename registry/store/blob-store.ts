// The global content-addressable blob store (`/docker/registry/v2/blobs`). Layers, configs and manifests all
// live here once, whichever repositories link to them.
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPathNotFound, type ReadOptions, type StorageDriver } from '../storage/driver.ts';
import { blobDataPath } from '../storage/paths.ts';

export class BlobStore {
  readonly driver: StorageDriver;

  constructor(driver: StorageDriver) {
    this.driver = driver;
  }

  /** The blob's size, or null when the blob is not stored. Never reads the content. */
  async size(digest: string): Promise<number | null> {
    try {
      const info = await this.driver.stat(blobDataPath(digest));
      return info.isDir ? null : info.size;
    } catch (err) {
      if (isPathNotFound(err)) return null;
      throw err;
    }
  }

  read(digest: string, range?: ReadOptions): Promise<Readable> {
    return this.driver.reader(blobDataPath(digest), range);
  }

  /** Sends a blob (or a range of it) into a writable without ending it. */
  async copyTo(digest: string, destination: Writable, range?: ReadOptions): Promise<void> {
    const path = blobDataPath(digest);
    if (this.driver.copyTo) return this.driver.copyTo(path, destination, range);
    await pipeline(await this.driver.reader(path, range), destination, { end: false });
  }

  getContent(digest: string): Promise<Buffer> {
    return this.driver.getContent(blobDataPath(digest));
  }

  /** Stores small content (manifests) under its digest; the write is atomic. */
  async putContent(digest: string, content: Uint8Array): Promise<void> {
    await this.driver.putContent(blobDataPath(digest), content);
  }

  /**
   * Moves verified upload data into place. When the blob already exists (a concurrent or earlier push of the
   * same content) the existing copy is kept: it is identical by construction.
   */
  async adopt(uploadDataPath: string, digest: string): Promise<void> {
    if ((await this.size(digest)) !== null) return;
    await this.driver.move(uploadDataPath, blobDataPath(digest));
  }

  redirectURL(digest: string, method: 'GET' | 'HEAD'): Promise<string | null> {
    return this.driver.redirectURL(blobDataPath(digest), method);
  }
}
