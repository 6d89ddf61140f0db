// The Azure FileWriter, on block blobs with staged blocks:
//
// - write() cuts the stream into `chunksize` blocks and stages them (Put Block), several in flight at once.
//   Staged blocks are stored by Azure but belong to no readable content yet.
// - close() and commit() both publish: one Put Block List makes the blob at the writer's path consist of the
//   blocks of earlier sessions followed by this session's, atomically (readers see the old or the new blob,
//   never a part). So what a session wrote is at once stat-able and readable at the path (the upload store
//   stats the data file after close and may re-read it), and any process or replica resumes from it.
// - The block list itself is the resume state, kept by Azure with the blob: a session that appends reads the
//   committed list (Get Block List) and commits it again with its own blocks behind it. Nothing already stored
//   is copied or re-sent, however many sessions an upload takes (an S3 multipart upload has to copy its base
//   each time). Block ids carry a random session id, so concurrent sessions never reuse each other's blocks,
//   and the commit is conditional on the ETag seen at open: a concurrent change fails the session instead of
//   being lost.
// - A blob that has content but no usable block list (stored whole by Put Blob, e.g. through putContent, or
//   by another tool with block ids of another length) is read back once and staged as this session's first
//   blocks when the session appends to it.
// - A session that writes nothing leaves an existing blob as it is; a new or replaced one is published empty.
// - Blocks staged by a session that never publishes are discarded by the next commit of the blob, or by
//   cancel(), or by Azure itself after a week.
import { randomBytes } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import { StorageDriverError, type FileWriter } from './driver.ts';
import {
  driverError,
  driverName,
  isConditionFailed,
  isMissingBlob,
  isWrongBlobType,
  maxBlocks,
  type AzureTarget,
} from './azure-common.ts';
import { ChunkBuffer, WriterState, changedWhileAppending } from './object-writer.ts';

/** What the writer found at its path when it was opened. */
export interface ExistingBlob {
  size: number;
  etag: string;
  /** The committed block ids, or undefined when the content must be staged anew before appending. */
  blockIds: string[] | undefined;
}

/** Session ids are 18 characters and block numbers 6, so every block id this driver makes has one length. */
const sessionIdLength = 18;
const blockNumberLength = 6;
/** The length of a block id this driver made (base64 of 24 characters). */
export const blockIdLength = 32;

export const contentType = 'application/octet-stream';

export class AzureFileWriter implements FileWriter {
  private readonly target: AzureTarget;
  private readonly path: string;
  private readonly blob: BlockBlobClient;
  private readonly base: ExistingBlob | undefined;
  private readonly append: boolean;
  private readonly mustPublish: boolean;
  private readonly session = randomBytes(sessionIdLength / 2).toString('hex');
  /** The base's content has been staged as this session's first blocks. */
  private baseStaged = false;
  private written = 0;
  /** The block being collected; it starts small, so small writers never hold a whole block's memory. */
  private readonly buffer: ChunkBuffer;
  /** Ids of the blocks this session staged (or is staging), in content order. */
  private readonly blocks: string[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private error: unknown;
  private readonly state: WriterState;

  constructor(
    target: AzureTarget,
    path: string,
    blob: BlockBlobClient,
    base: ExistingBlob | undefined,
    append: boolean,
  ) {
    this.target = target;
    this.path = path;
    this.blob = blob;
    this.base = base;
    this.append = append;
    this.mustPublish = !append || base === undefined;
    this.buffer = new ChunkBuffer(target.chunkSize);
    this.state = new WriterState(driverName, path);
  }

  get size(): number {
    return (this.base?.size ?? 0) + this.written;
  }

  async write(chunk: Uint8Array, released?: () => void): Promise<void> {
    this.state.assertOpen();
    if (this.error !== undefined) throw this.failure('write');
    if (chunk.byteLength === 0) {
      released?.();
      return;
    }
    if (this.base && this.base.blockIds === undefined && !this.baseStaged) {
      try {
        await this.stageBase(this.base);
      } catch (err) {
        // The session cannot publish without its base: close() fails too.
        this.error ??= err;
        throw err;
      }
    }
    await this.bufferBytes(chunk);
    this.written += chunk.byteLength;
    // Every byte is in the block buffer now.
    released?.();
  }

  close(): Promise<void> {
    return this.finish('closed');
  }

  commit(): Promise<void> {
    return this.finish('committed');
  }

  async cancel(): Promise<void> {
    if (!this.state.beginCancel()) return;
    this.buffer.release();
    await this.settle();
    try {
      // Committing an empty list first discards the blocks this session staged for a blob that does not exist.
      if (this.blocks.length > 0 && this.base === undefined) await this.blob.commitBlockList([]);
      await this.blob.delete({ deleteSnapshots: 'include' });
    } catch (err) {
      if (!isMissingBlob(err)) throw driverError(this.path, 'cancel', err);
    }
  }

  private async bufferBytes(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      offset += this.buffer.fill(chunk, offset);
      if (this.buffer.full) {
        this.stageBuffer(false);
        while (this.inflight.size >= this.target.blockConcurrency) await Promise.race(this.inflight);
        if (this.error !== undefined) throw this.failure('stage block');
      }
    }
  }

  private async finish(next: 'closed' | 'committed'): Promise<void> {
    this.state.beginFinish();
    try {
      if (this.error !== undefined) throw this.failure('write');
      await this.publish();
    } catch (err) {
      throw driverError(this.path, next === 'committed' ? 'commit' : 'close', err);
    } finally {
      this.state.endFinish(next);
      this.buffer.release();
    }
  }

  private async publish(): Promise<void> {
    if (this.written === 0 && !this.mustPublish) return;
    if (this.buffer.length > 0) this.stageBuffer(true);
    await this.settle();
    if (this.error !== undefined) throw this.failure('stage block');
    const kept = this.baseStaged ? [] : (this.base?.blockIds ?? []);
    const conditions = this.base
      ? { ifMatch: this.base.etag }
      : this.append
        ? { ifNoneMatch: '*' }
        : undefined;
    const commit = (): Promise<unknown> =>
      this.blob.commitBlockList([...kept, ...this.blocks], {
        blobHTTPHeaders: { blobContentType: contentType },
        ...(conditions ? { conditions } : {}),
      });
    try {
      await commit();
    } catch (err) {
      if (isConditionFailed(err)) throw this.changed(err);
      // Replacing an append or page blob (Distribution 2.x wrote some): only a block blob takes a block list.
      if (!this.append && isWrongBlobType(err)) {
        await this.blob.deleteIfExists();
        await commit();
        return;
      }
      throw err;
    }
  }

  /** Stages the buffered bytes as the next block, in the background. */
  private stageBuffer(last: boolean): void {
    const body = this.buffer.take(last);
    const kept = this.baseStaged ? 0 : (this.base?.blockIds?.length ?? 0);
    if (kept + this.blocks.length >= maxBlocks) {
      this.error ??= new StorageDriverError(
        driverName,
        this.path,
        `more than ${maxBlocks} blocks: raise chunksize (now ${this.target.chunkSize})`,
      );
      return;
    }
    const number = String(this.blocks.length).padStart(blockNumberLength, '0');
    const id = Buffer.from(`${this.session}${number}`).toString('base64');
    this.blocks.push(id);
    const stage = async (): Promise<void> => {
      try {
        await this.blob.stageBlock(id, body, body.byteLength);
      } catch (err) {
        // A new blob over an append or page blob: blocks can only be staged once that is gone.
        if (this.append || !isWrongBlobType(err)) throw err;
        await this.blob.deleteIfExists();
        await this.blob.stageBlock(id, body, body.byteLength);
      }
    };
    const done: Promise<void> = stage().then(
      () => {
        this.buffer.reuse(body);
        this.inflight.delete(done);
      },
      (err: unknown) => {
        this.error ??= err;
        this.inflight.delete(done);
      },
    );
    this.inflight.add(done);
  }

  private async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
  }

  /** Reads a base without a usable block list and stages it in front of the new bytes. */
  private async stageBase(base: ExistingBlob): Promise<void> {
    this.baseStaged = true;
    let total = 0;
    try {
      const res = await this.blob.download(0, undefined, { conditions: { ifMatch: base.etag } });
      const body = res.readableStreamBody;
      if (body === undefined) throw new Error('download returned no body');
      for await (const piece of body) {
        const bytes = typeof piece === 'string' ? Buffer.from(piece) : (piece as Buffer);
        total += bytes.byteLength;
        await this.bufferBytes(bytes);
      }
    } catch (err) {
      if (isConditionFailed(err) || isMissingBlob(err)) throw this.changed(err);
      throw driverError(this.path, 'read for append', err);
    }
    if (total !== base.size) throw this.changed(undefined);
  }

  private failure(operation: string): StorageDriverError {
    if (isConditionFailed(this.error)) return this.changed(this.error);
    return driverError(this.path, operation, this.error);
  }

  private changed(cause: unknown): StorageDriverError {
    return changedWhileAppending(driverName, this.path, 'blob', cause);
  }
}
