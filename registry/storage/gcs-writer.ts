// The GCS FileWriter. GCS objects are immutable and have no append; what it has is `compose` (concatenate up to
// 32 existing objects of one bucket into one, server-side, without reading them) and generation preconditions.
//
// - Closed content is a complete object at the writer's key. close() and commit() both publish it, so what a
//   session wrote is readable and stat-able at once (the upload store reads an upload's size with stat() and,
//   on a replica that lacks the running hash, re-reads the data). Another process or replica resumes from it:
//   no state lives in the writer or in a sidecar, only in the object itself.
// - A session that starts empty (a new writer, or an append to nothing or to an empty object) uploads straight
//   to the key. A session that appends to existing bytes uploads its new bytes as a component object next to
//   the key (`<key>~<session id>`, a name no driver path can address, so list/walk never show it and deleting
//   the directory removes a stray one), then composes [key at the generation seen at open, component] into the
//   key with `ifGenerationMatch` on that generation, and deletes the component. A concurrent change to the key
//   fails the session instead of being lost. Until a session publishes, the previous object stays intact.
// - New bytes are buffered up to `chunksize`; a session that writes no more goes up in one simple upload, a
//   larger one goes up as a resumable upload, one `chunksize` request per chunk (gcs-resumable.ts). One chunk
//   is sent while the next fills; once GCS has the first, the third fills its memory. So a session holds two
//   chunks and allocates no more after its second, whatever its size.
// - A session that writes nothing leaves an existing object as it is (the usual final PUT of an upload whose
//   data came in one PATCH).
//
// Each resumed session costs one compose request and one delete, never a copy of the data through the registry.
// Every resumed session adds one component to the object's component count, which GCS caps (1,024 when this
// was written): an upload sent as more than about a thousand PATCH requests fails there. Docker, skopeo and
// podman send one or a few.
import { randomBytes } from 'node:crypto';
import type { FileWriter, StorageDriverError } from './driver.ts';
import {
  contentType,
  driverError,
  driverName,
  generationOf,
  isNotFound,
  isPreconditionFailed,
  type GcsTarget,
} from './gcs-common.ts';
import { GcsResumableUpload } from './gcs-resumable.ts';
import { ChunkBuffer, WriterState, changedWhileAppending } from './object-writer.ts';

/** What the writer found at its key when it was opened. */
export interface ExistingObject {
  size: number;
  generation: number;
}

export class GcsFileWriter implements FileWriter {
  private readonly target: GcsTarget;
  private readonly path: string;
  private readonly key: string;
  /** Content kept from earlier sessions (non-empty), or undefined when the session starts empty. */
  private readonly base: ExistingObject | undefined;
  /** Whether the session must publish even without writing (a new or replaced object). */
  private readonly mustPublish: boolean;
  /** Where this session's bytes go: the key itself, or a component composed onto it. */
  private readonly destination: string;
  private written = 0;
  /** The chunk being filled (the whole session while it fits in one). */
  private readonly buffer: ChunkBuffer;
  /** The resumable upload, once the session outgrew one chunk. */
  private upload: GcsResumableUpload | undefined;
  /** The chunk on its way to GCS, and its send. */
  private inFlight: { chunk: Buffer; sent: Promise<void> } | undefined;
  private error: unknown;
  private readonly state: WriterState;

  constructor(
    target: GcsTarget,
    path: string,
    key: string,
    base: ExistingObject | undefined,
    append: boolean,
  ) {
    this.target = target;
    this.path = path;
    this.key = key;
    this.base = base && base.size > 0 ? base : undefined;
    this.mustPublish = !append || this.base === undefined;
    this.destination = this.base ? `${key}~${randomBytes(12).toString('hex')}` : key;
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
    if (this.upload === undefined && chunk.byteLength > this.buffer.room) {
      // More than one chunk in this session: it goes up as a resumable upload.
      try {
        this.upload = await this.startUpload();
      } catch (err) {
        this.error ??= err;
        throw this.failure('write');
      }
    }
    this.written += chunk.byteLength;
    // The bytes are copied into the chunk: the caller may reuse `chunk` once this resolves.
    for (let offset = 0; offset < chunk.byteLength;) {
      offset += this.buffer.fill(chunk, offset);
      if (this.buffer.full && this.upload !== undefined) await this.sendFullChunk();
    }
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
    await this.abortUpload();
    this.buffer.release();
    const names = this.destination === this.key ? [this.key] : [this.destination, this.key];
    for (const name of names) {
      try {
        await this.target.bucket.file(name).delete();
      } catch (err) {
        if (!isNotFound(err)) throw driverError(this.path, 'delete', err);
      }
    }
  }

  private async finish(next: 'closed' | 'committed'): Promise<void> {
    this.state.beginFinish();
    try {
      if (this.error !== undefined) throw this.failure('write');
      await this.publish();
    } catch (err) {
      await this.abortUpload();
      if (this.base) await this.deleteComponent();
      throw driverError(this.path, next === 'committed' ? 'commit' : 'close', this.wrap(err));
    } finally {
      this.state.endFinish(next);
      this.buffer.release();
    }
  }

  private async publish(): Promise<void> {
    const { bucket } = this.target;
    if (this.written === 0 && !this.mustPublish) return;
    if (this.upload !== undefined) {
      await this.settleInFlight();
      await this.upload.send(this.buffer.take(true), this.written);
    } else {
      await bucket.file(this.destination).save(this.buffer.bytes(), {
        resumable: false,
        validation: false,
        metadata: { contentType },
      });
    }
    const base = this.base;
    if (base === undefined) return;
    // Appending: key (as it was at open) + this session's component, into the key.
    const destination = bucket.file(this.key);
    destination.metadata.contentType = contentType;
    try {
      // The compose precondition is the guarantee on GCS; this look first reports the usual case without
      // relying on it (fake-gcs-server, for one, ignores preconditions on compose).
      const [current] = await destination.getMetadata();
      if (generationOf(current) !== base.generation) throw this.changed(undefined);
      await bucket.combine(
        [bucket.file(this.key, { generation: base.generation }), bucket.file(this.destination)],
        destination,
        { ifGenerationMatch: base.generation },
      );
    } finally {
      await this.deleteComponent();
    }
  }

  private async startUpload(): Promise<GcsResumableUpload> {
    const [uri] = await this.target.bucket.file(this.destination).createResumableUpload({
      metadata: { contentType },
    });
    return new GcsResumableUpload({ uri, headers: () => this.target.requestHeaders(uri) });
  }

  /** Starts sending the full chunk, once the one before it is at GCS (its memory then fills next). */
  private async sendFullChunk(): Promise<void> {
    const upload = this.upload;
    if (upload === undefined) throw new Error('no resumable upload');
    await this.settleInFlight();
    const chunk = this.buffer.take(false);
    const sent = upload.send(chunk);
    // Awaited by the next chunk or the close; recorded there.
    sent.catch(() => undefined);
    this.inFlight = { chunk, sent };
  }

  /** Waits for the chunk in flight and gives its memory back; a failed send fails this call and the writer. */
  private async settleInFlight(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight === undefined) return;
    try {
      await inFlight.sent;
    } catch (err) {
      this.error ??= err;
      throw this.failure('write');
    } finally {
      this.inFlight = undefined;
    }
    this.buffer.reuse(inFlight.chunk);
  }

  /** Stops the resumable upload: waits out the chunk in flight (nothing may read its memory after), cancels. */
  private async abortUpload(): Promise<void> {
    const upload = this.upload;
    this.upload = undefined;
    if (upload === undefined) return;
    await this.inFlight?.sent.catch(() => undefined);
    this.inFlight = undefined;
    await upload.cancel();
  }

  private async deleteComponent(): Promise<void> {
    await this.target.bucket
      .file(this.destination)
      .delete()
      .catch(() => undefined);
  }

  private wrap(err: unknown): unknown {
    return isPreconditionFailed(err) || (this.base !== undefined && isNotFound(err))
      ? this.changed(err)
      : err;
  }

  private failure(operation: string): StorageDriverError {
    return driverError(this.path, operation, this.wrap(this.error));
  }

  private changed(cause: unknown): StorageDriverError {
    return changedWhileAppending(driverName, this.path, 'object', cause);
  }
}
