// Link files: tiny objects whose whole content is a digest (`sha256:<hex>`), as Distribution writes them.
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import { isDigest } from '../digest.ts';

/** Reads a link, returning null when it is absent or does not hold a valid digest. */
export async function readLink(driver: StorageDriver, path: string): Promise<string | null> {
  try {
    const value = (await driver.getContent(path)).toString('utf8').trim();
    return isDigest(value) ? value : null;
  } catch (err) {
    if (isPathNotFound(err)) return null;
    throw err;
  }
}

export async function writeLink(driver: StorageDriver, path: string, digest: string): Promise<void> {
  await driver.putContent(path, Buffer.from(digest, 'utf8'));
}

export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** Deletes a path, treating "already gone" as success: deletes must be idempotent under concurrency. */
export async function deleteIfExists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.delete(path);
    return true;
  } catch (err) {
    if (isPathNotFound(err)) return false;
    throw err;
  }
}

/** Lists a directory's children's last path segments; an absent directory is empty. */
export async function listNames(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    const children = await driver.list(path);
    return children.map((child) => child.slice(child.lastIndexOf('/') + 1));
  } catch (err) {
    if (isPathNotFound(err)) return [];
    throw err;
  }
}
