// The S3 FileWriter. S3 has no append, so a writer session builds the object anew and swaps it in whole:
//
// - Closed content is a complete object at the writer's key. close() and commit() both publish it, so what a
//   session wrote is readable and stat-able at once (the upload store reads an upload's size with stat() and,
//   on a replica that lacks the running hash, re-reads the data). Another process or replica resumes from it.
// - A session that appends starts a multipart upload whose first parts are the existing object, copied inside
//   S3 (UploadPartCopy, guarded by the ETag seen at open, so a concurrent change fails the session instead of
//   being lost), then the new bytes in `chunksize` parts, several in flight at once. An existing object below
//   S3's 5 MiB part minimum cannot be a part of its own: it is read back (at most 5 MiB) and sent in front of
//   the new bytes instead — Distribution's small-tail rule.
// - A session that writes no more than one part uses a single PutObject; one that writes nothing leaves the
//   object as it is (the usual final PUT of an upload whose data came in one PATCH).
// - Until a session publishes, the previous object stays intact; a failed session aborts its multipart upload.
//
// - A staged session (a whole blob written straight to its final key, see StorageDriver.stagedWriter) publishes
//   only on commit; its cancel() aborts the multipart upload and leaves the key alone.
//
// Each resumed session costs one server-side copy of what is already stored. The common push (one PATCH,
// then a PUT without a body) copies nothing; an upload sent as many large chunks copies its data once per chunk.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { StorageDriverError, type FileWriter } from './driver.ts';
import { ChunkBuffer, WriterState, changedWhileAppending } from './object-writer.ts';
import {
  copySource,
  driverError,
  driverName,
  isMissingObject,
  isPreconditionFailed,
  maxPartSize,
  maxParts,
  minPartSize,
  type S3Target,
} from './s3-common.ts';

/** What the writer found at its key when it was opened. */
export interface ExistingObject {
  size: number;
  etag: string;
}

interface Upload {
  id: string;
  parts: CompletedPart[];
  nextPart: number;
  inflight: Set<Promise<void>>;
}

export class S3FileWriter implements FileWriter {
  private readonly target: S3Target;
  private readonly path: string;
  private readonly key: string;
  /** Content kept from earlier sessions (append), or undefined when the session starts empty. */
  private readonly base: ExistingObject | undefined;
  /** Whether the session must publish even without writing (a new or replaced object). */
  private readonly mustPublish: boolean;
  /** The base was small and has been read into the front of the buffer. */
  private baseInBuffer = false;
  private written = 0;
  /** The part being collected; it starts small, so small writers never hold a whole part's memory. */
  private readonly buffer: ChunkBuffer;
  private upload: Promise<Upload> | undefined;
  private error: unknown;
  private readonly state: WriterState;

  /** A staged session (StorageDriver.stagedWriter): cancel() leaves what was at the key before. */
  private readonly staged: boolean;

  constructor(
    target: S3Target,
    path: string,
    key: string,
    base: ExistingObject | undefined,
    append: boolean,
    staged = false,
  ) {
    this.staged = staged;
    this.target = target;
    this.path = path;
    this.key = key;
    this.base = base && base.size > 0 ? base : undefined;
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
    if (this.base && this.base.size < minPartSize && !this.baseInBuffer)
      await this.readBaseIntoBuffer(this.base);
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = this.buffer.fill(chunk, offset);
      this.written += n;
      offset += n;
      if (this.buffer.full) await this.flushPart();
    }
    // Every byte is in the part buffer now.
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
    await this.abortUpload();
    // Nothing of a staged session was published: the object at the key (if any) is someone else's.
    if (this.staged) return;
    try {
      await this.target.client.send(new DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key }));
    } catch (err) {
      if (!isMissingObject(err)) throw driverError(this.path, 'DeleteObject', err);
    }
  }

  private async finish(next: 'closed' | 'committed'): Promise<void> {
    this.state.beginFinish();
    try {
      if (this.error !== undefined) throw this.failure('write');
      await this.publish();
    } catch (err) {
      await this.abortUpload();
      throw driverError(this.path, next === 'committed' ? 'commit' : 'close', err);
    } finally {
      this.state.endFinish(next);
      this.buffer.release();
    }
  }

  private async publish(): Promise<void> {
    const { client, bucket, objectParams } = this.target;
    const baseNeedsCopy = this.base !== undefined && !this.baseInBuffer;
    if (this.upload === undefined && !baseNeedsCopy) {
      // Everything is in the buffer (or nothing was written): one PutObject, or nothing at all.
      if (this.written === 0 && !this.mustPublish) return;
      const body = this.buffer.bytes();
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.key,
          Body: body,
          ContentLength: body.byteLength,
          ...objectParams,
        }),
      );
      return;
    }
    if (this.written === 0 && this.upload === undefined) return;
    const upload = await this.startUpload();
    if (this.buffer.length > 0) this.sendPart(upload, true);
    await this.settle(upload);
    if (this.error !== undefined) throw this.failure('upload part');
    const parts = upload.parts.filter((p): p is CompletedPart => p !== undefined);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: this.key,
        UploadId: upload.id,
        MultipartUpload: { Parts: parts },
      }),
    );
    this.upload = undefined;
  }

  /** Sends the full buffer as a part, then waits while too many parts are in flight. */
  private async flushPart(): Promise<void> {
    const upload = await this.startUpload();
    this.sendPart(upload);
    while (upload.inflight.size >= this.target.partConcurrency) await Promise.race(upload.inflight);
    if (this.error !== undefined) throw this.failure('upload part');
  }

  private sendPart(upload: Upload, last = false): void {
    const body = this.buffer.take(last);
    const partNumber = this.nextPartNumber(upload);
    this.track(
      upload,
      partNumber,
      this.target.client
        .send(
          new UploadPartCommand({
            Bucket: this.target.bucket,
            Key: this.key,
            UploadId: upload.id,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.byteLength,
          }),
        )
        .then((res) => {
          this.buffer.reuse(body);
          return res.ETag;
        }),
    );
  }

  /** Creates the multipart upload once; its first parts copy the existing object when it is large enough. */
  private startUpload(): Promise<Upload> {
    this.upload ??= (async () => {
      const { client, bucket, objectParams } = this.target;
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: this.key, ...objectParams }),
      );
      if (created.UploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
      const upload: Upload = { id: created.UploadId, parts: [], nextPart: 1, inflight: new Set() };
      const base = this.base;
      if (base && !this.baseInBuffer) {
        // Equal ranges of at most 5 GiB: each is at least 5 MiB because the base is.
        const count = Math.ceil(base.size / maxPartSize);
        const step = Math.ceil(base.size / count);
        for (let start = 0; start < base.size; start += step) {
          const end = Math.min(start + step, base.size) - 1;
          const partNumber = this.nextPartNumber(upload);
          this.track(
            upload,
            partNumber,
            client
              .send(
                new UploadPartCopyCommand({
                  Bucket: bucket,
                  Key: this.key,
                  UploadId: upload.id,
                  PartNumber: partNumber,
                  CopySource: copySource(bucket, this.key),
                  CopySourceRange: `bytes=${start}-${end}`,
                  CopySourceIfMatch: base.etag,
                }),
              )
              .then((res) => res.CopyPartResult?.ETag),
          );
        }
      }
      return upload;
    })();
    return this.upload;
  }

  private nextPartNumber(upload: Upload): number {
    const n = upload.nextPart++;
    if (n > maxParts) {
      throw new StorageDriverError(
        driverName,
        this.path,
        `more than ${maxParts} parts: raise chunksize (now ${this.target.chunkSize})`,
      );
    }
    return n;
  }

  private track(upload: Upload, partNumber: number, sent: Promise<string | undefined>): void {
    const done: Promise<void> = sent.then(
      (etag) => {
        upload.parts[partNumber - 1] = { PartNumber: partNumber, ETag: etag };
        upload.inflight.delete(done);
      },
      (err: unknown) => {
        this.error ??= err;
        upload.inflight.delete(done);
      },
    );
    upload.inflight.add(done);
  }

  private async settle(upload: Upload): Promise<void> {
    while (upload.inflight.size > 0) await Promise.all(upload.inflight);
  }

  private async abortUpload(): Promise<void> {
    const pending = this.upload;
    this.upload = undefined;
    if (pending === undefined) return;
    let upload: Upload;
    try {
      upload = await pending;
    } catch {
      return;
    }
    await this.settle(upload);
    await this.target.client
      .send(
        new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.key, UploadId: upload.id }),
      )
      .catch(() => undefined);
  }

  /** Reads a base below the part minimum into the front of the buffer, so it travels with the new bytes. */
  private async readBaseIntoBuffer(base: ExistingObject): Promise<void> {
    let bytes: Uint8Array;
    try {
      const res = await this.target.client.send(
        new GetObjectCommand({ Bucket: this.target.bucket, Key: this.key, IfMatch: base.etag }),
      );
      if (res.Body === undefined) throw new Error('GetObject returned no body');
      bytes = await res.Body.transformToByteArray();
    } catch (err) {
      if (isPreconditionFailed(err) || isMissingObject(err)) throw this.changed(err);
      throw driverError(this.path, 'GetObject', err);
    }
    if (bytes.byteLength !== base.size) throw this.changed(undefined);
    // Below the part minimum, so below chunksize: it all fits.
    this.buffer.fill(bytes);
    this.baseInBuffer = true;
  }

  private failure(operation: string): StorageDriverError {
    if (isPreconditionFailed(this.error)) return this.changed(this.error);
    return driverError(this.path, operation, this.error);
  }

  private changed(cause: unknown): StorageDriverError {
    return changedWhileAppending(driverName, this.path, 'object', cause);
  }
}
