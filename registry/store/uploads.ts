// Blob upload sessions, stored under `repositories/<name>/_uploads/<id>` as Distribution does, so any replica
// (and upload purging) sees them. Data is hashed while it streams in; the running hash lives in memory keyed
// by upload and offset. When a chunk arrives at a replica (or after a restart) that lacks the state, the hash
// is rebuilt by reading the stored data once — correct everywhere, fast in the common case.
import { randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { RegistryError } from '../errors.ts';
import { isPathNotFound, type FileWriter, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { newHash, type DigestAlgorithm } from '../digest.ts';
import type { BlobStore } from './blob-store.ts';
import { deleteIfExists } from './links.ts';

const uploadIdPattern = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export function isUploadId(id: string): boolean {
  return uploadIdPattern.test(id);
}

const maxHashStates = 10_000;

interface HashState {
  hash: Hash;
  offset: number;
}

export interface UploadStatus {
  id: string;
  /** Bytes received so far. */
  size: number;
  startedAt: Date;
}

/** Thrown when a chunk does not start where the upload ends (or its length disagrees with Content-Range). */
export function rangeInvalid(size: number, message: string): RegistryError {
  return new RegistryError('RANGE_INVALID', message, {
    headers: { Range: size > 0 ? `0-${size - 1}` : '0-0' },
  });
}

export class UploadStore {
  readonly driver: StorageDriver;
  readonly blobs: BlobStore;
  /** Running sha256 per upload; dropped on completion, cancel or any write error. */
  private readonly hashStates = new Map<string, HashState>();
  /** Uploads with a request in progress: one writer at a time per upload. */
  private readonly busy = new Set<string>();

  /** Told of each body chunk once the writer is done with it (the serving store frees the chunk's memory). */
  private readonly chunkReleased: ((chunk: Uint8Array) => void) | undefined;

  constructor(
    driver: StorageDriver,
    blobs: BlobStore,
    options: { chunkReleased?: (chunk: Uint8Array) => void } = {},
  ) {
    this.driver = driver;
    this.blobs = blobs;
    this.chunkReleased = options.chunkReleased;
  }

  async create(name: string): Promise<UploadStatus> {
    const id = randomUUID();
    const startedAt = new Date();
    await this.driver.putContent(paths.uploadStartedAtPath(name, id), Buffer.from(startedAt.toISOString()));
    return { id, size: 0, startedAt };
  }

  async status(name: string, id: string): Promise<UploadStatus> {
    if (!isUploadId(id)) throw unknownUpload(id);
    let startedAt: Date;
    try {
      startedAt = new Date(
        (await this.driver.getContent(paths.uploadStartedAtPath(name, id))).toString('utf8'),
      );
    } catch (err) {
      if (isPathNotFound(err)) throw unknownUpload(id);
      throw err;
    }
    return { id, size: await this.dataSize(name, id), startedAt };
  }

  /**
   * Appends a request body to the upload. `start` (from Content-Range) must equal the current size; `length`
   * (from Content-Length) when given must match what arrives. Returns the new size.
   */
  async append(
    name: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    expect: { start?: number; length?: number } = {},
  ): Promise<number> {
    const key = `${name}/${id}`;
    if (this.busy.has(key)) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload');
    }
    this.busy.add(key);
    try {
      const { size } = await this.status(name, id);
      if (expect.start !== undefined && expect.start !== size) {
        throw rangeInvalid(size, `chunk starts at ${expect.start} but the upload has ${size} bytes`);
      }
      return await this.write(name, id, key, size, body, expect.length, false);
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * Finishes an upload: appends the optional final body, verifies the digest, moves the data into the blob
   * store. The caller links the blob into the repository. On a digest mismatch the upload is discarded.
   */
  async complete(
    name: string,
    id: string,
    digest: string,
    algorithm: DigestAlgorithm,
    body: AsyncIterable<Uint8Array> | null,
    length?: number,
  ): Promise<number> {
    const key = `${name}/${id}`;
    if (this.busy.has(key)) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload');
    }
    this.busy.add(key);
    try {
      const { size: before } = await this.status(name, id);
      if (before === 0 && body !== null && this.driver.stagedWriter) {
        const writer = await this.driver.stagedWriter(paths.blobDataPath(digest));
        return await this.completeStaged(name, id, digest, algorithm, writer, body, length);
      }
      const size = await this.write(name, id, key, before, body ?? emptyBody(), length, true);
      const actual = await this.finalDigest(name, id, key, size, algorithm);
      if (actual !== digest) {
        await this.discard(name, id);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
          detail: { expected: digest, actual },
        });
      }
      await this.blobs.adopt(paths.uploadDataPath(name, id), digest);
      await this.discard(name, id);
      return size;
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * The whole blob in this one request, into `writer`, a staged writer at its final key: written straight there,
   * hashed on the way, published only when the digest matches. This saves the object store a full copy of
   * the blob from the upload to the blob store, the larger part of a big push's commit. A push cut short or
   * with the wrong digest publishes nothing, and a copy already at the key (an earlier or concurrent push of
   * the same content) stays as it is: the two are identical by construction.
   */
  private async completeStaged(
    name: string,
    id: string,
    digest: string,
    algorithm: DigestAlgorithm,
    writer: FileWriter,
    body: AsyncIterable<Uint8Array>,
    length: number | undefined,
  ): Promise<number> {
    const hash = newHash(algorithm);
    let received: number;
    try {
      received = await streamInto(writer, body, hash, length, this.chunkReleased);
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) {
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
          detail: { expected: digest, actual },
        });
      }
    } catch (err) {
      await writer.cancel().catch(() => undefined);
      // As on the other path: a wrong digest ends the upload; a cut-off body leaves it (empty) to retry.
      if (err instanceof RegistryError && err.code === 'DIGEST_INVALID') await this.discard(name, id);
      throw err;
    }
    await writer.commit();
    await this.discard(name, id);
    return received;
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.status(name, id);
    await this.discard(name, id);
  }

  private async discard(name: string, id: string): Promise<void> {
    this.hashStates.delete(`${name}/${id}`);
    await deleteIfExists(this.driver, paths.uploadDir(name, id));
  }

  private async dataSize(name: string, id: string): Promise<number> {
    try {
      return (await this.driver.stat(paths.uploadDataPath(name, id))).size;
    } catch (err) {
      if (isPathNotFound(err)) return 0;
      throw err;
    }
  }

  private async write(
    name: string,
    id: string,
    key: string,
    size: number,
    body: AsyncIterable<Uint8Array>,
    length: number | undefined,
    commit: boolean,
  ): Promise<number> {
    let state = this.hashStates.get(key);
    if (state && state.offset !== size) {
      this.hashStates.delete(key);
      state = undefined;
    }
    if (!state && size === 0) {
      state = { hash: newHash('sha256'), offset: 0 };
      this.remember(key, state);
    }
    const writer = await this.driver.writer(paths.uploadDataPath(name, id), true);
    let received: number;
    try {
      received = await streamInto(writer, body, state?.hash, length, this.chunkReleased);
    } catch (err) {
      // The stored data may now be ahead of the hash: forget it and rebuild from storage if the client resumes.
      this.hashStates.delete(key);
      await writer.close().catch(() => undefined);
      throw err;
    }
    if (commit) await writer.commit();
    else await writer.close();
    if (state) state.offset += received;
    return size + received;
  }

  /** The digest of the stored data, from the running hash when it covers all of it, else by re-reading it. */
  private async finalDigest(
    name: string,
    id: string,
    key: string,
    size: number,
    algorithm: DigestAlgorithm,
  ): Promise<string> {
    const state = this.hashStates.get(key);
    this.hashStates.delete(key);
    if (state && state.offset === size && algorithm === 'sha256') {
      return `sha256:${state.hash.digest('hex')}`;
    }
    const hash = newHash(algorithm);
    if (size > 0) {
      for await (const chunk of await this.driver.reader(paths.uploadDataPath(name, id))) {
        hash.update(chunk as Buffer);
      }
    }
    return `${algorithm}:${hash.digest('hex')}`;
  }

  /** Bounds the map: abandoned uploads must not leak hash states; an evicted one is rebuilt from storage. */
  private remember(key: string, state: HashState): void {
    if (this.hashStates.size >= maxHashStates) {
      const oldest = this.hashStates.keys().next().value;
      if (oldest !== undefined) this.hashStates.delete(oldest);
    }
    this.hashStates.set(key, state);
  }
}

function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', {
    detail: { uuid: id },
  });
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

/** Writes a request body into `writer`, hashing it on the way; checks it against Content-Length. */
async function streamInto(
  writer: FileWriter,
  body: AsyncIterable<Uint8Array>,
  hash: Hash | undefined,
  length: number | undefined,
  chunkReleased: ((chunk: Uint8Array) => void) | undefined,
): Promise<number> {
  let received = 0;
  for await (const chunk of body) {
    hash?.update(chunk);
    received += chunk.length;
    await writer.write(chunk, chunkReleased && (() => chunkReleased(chunk)));
  }
  if (length !== undefined && received !== length) {
    throw new RegistryError('SIZE_INVALID', `received ${received} bytes but Content-Length was ${length}`);
  }
  return received;
}
