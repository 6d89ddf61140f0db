// Upload writes in progress, so that a shutdown which cuts their requests can tell what it cut, and removes
// what no client can resume.
//
// An upload whose cut request carried it from its first byte (Docker's streamed PATCH, a monolithic PUT) holds
// only the part of one body that happened to arrive: no client resumes that (they all start the blob again), so
// it would only sit in `_uploads/` until upload purging (7 days by default). An upload that had data before the
// cut request (a chunked upload) keeps it: the client may resume from `Range` with a GET and the next PATCH.
// Uploads with no request in flight at the cut (chunked uploads between PATCHes) are never touched.
import type { Logger } from 'pino';
import type { BodyGarbage } from './body-garbage.ts';
import { freeBodyChunk } from './body-chunks.ts';
import type { DigestAlgorithm } from './digest.ts';
import type { BlobStore } from './store/blob-store.ts';
import type { StorageDriver } from './storage/driver.ts';
import { UploadStore } from './store/uploads.ts';

export interface UploadWrite {
  repository: string;
  upload: string;
  /** Body bytes this request handed to storage so far. */
  received: number;
  /** Resolves when the write has ended, whichever way. */
  settled: Promise<void>;
}

async function* counted(body: AsyncIterable<Uint8Array>, write: UploadWrite): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    // Counted when handed on: the store writes each chunk before it asks for the next one.
    write.received += chunk.length;
    yield chunk;
  }
}

/**
 * An UploadStore for request bodies: it knows which uploads have a request writing to them right now, and it
 * owns the body chunks it is given. Once the writer is done with a chunk, the chunk's memory is freed
 * (`freeBodyChunk`), so a caller must not use a chunk again after handing it in.
 */
export class TrackedUploadStore extends UploadStore {
  readonly #writes = new Set<UploadWrite>();

  /**
   * `garbage`, if given, is told of the body bytes that could not be freed that way (chunks that share their
   * memory), and runs a minor GC after enough of them.
   */
  constructor(driver: StorageDriver, blobs: BlobStore, garbage?: BodyGarbage) {
    super(driver, blobs, {
      chunkReleased: (chunk) => {
        if (!freeBodyChunk(chunk)) garbage?.received(chunk.byteLength);
      },
    });
  }

  #track<T>(
    repository: string,
    upload: string,
    body: AsyncIterable<Uint8Array>,
    run: (body: AsyncIterable<Uint8Array>) => Promise<T>,
  ): Promise<T> {
    let settle = () => {};
    const write: UploadWrite = {
      repository,
      upload,
      received: 0,
      settled: new Promise<void>((resolve) => (settle = resolve)),
    };
    this.#writes.add(write);
    return run(counted(body, write)).finally(() => {
      this.#writes.delete(write);
      settle();
    });
  }

  override append(
    name: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    expect: { start?: number; length?: number } = {},
  ): Promise<number> {
    return this.#track(name, id, body, (tracked) => super.append(name, id, tracked, expect));
  }

  override complete(
    name: string,
    id: string,
    digest: string,
    algorithm: DigestAlgorithm,
    body: AsyncIterable<Uint8Array> | null,
    length?: number,
  ): Promise<number> {
    if (body === null) return super.complete(name, id, digest, algorithm, null, length);
    return this.#track(name, id, body, (tracked) =>
      super.complete(name, id, digest, algorithm, tracked, length),
    );
  }

  /** The writes in progress now. */
  inProgress(): UploadWrite[] {
    return [...this.#writes];
  }
}

export interface CutUploadsOptions {
  uploads: UploadStore;
  /** The writes whose requests the shutdown cut. */
  writes: readonly UploadWrite[];
  log: Logger;
  /** Nothing is removed while the registry is read-only (a maintenance window owns the storage then). */
  isReadOnly: () => boolean;
  /** How long to wait for a cut write to end before leaving its upload to upload purging. */
  settleMs: number;
}

/** After a shutdown cut `writes`: removes the uploads nothing can resume, logs what it kept and why. */
export async function removeCutUploads(options: CutUploadsOptions): Promise<void> {
  const { uploads, log } = options;
  for (const write of options.writes) {
    const fields = { repository: write.repository, upload: write.upload, receivedBytes: write.received };
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      write.settled.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.settleMs))),
    ]);
    clearTimeout(timer);
    if (!ended) {
      log.warn(fields, 'cut upload still being written; left for upload purging');
      continue;
    }
    if (options.isReadOnly()) {
      log.warn(fields, 'cut upload left in place: the registry is read-only');
      continue;
    }
    try {
      // Gone already: finished just before the cut, or discarded by its own request (monolithic POST).
      const status = await uploads.status(write.repository, write.upload).catch(() => undefined);
      if (!status) continue;
      if (status.size === 0 || status.size === write.received) {
        await uploads.cancel(write.repository, write.upload);
        log.warn(fields, 'upload cut by shutdown removed: it held only part of one request body');
      } else {
        log.info(
          { ...fields, size: status.size },
          'upload cut by shutdown kept: it had earlier chunks, a client can resume it',
        );
      }
    } catch (err) {
      log.warn({ ...fields, reason: (err as Error).message }, 'cut upload not removed');
    }
  }
}
