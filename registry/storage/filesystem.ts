// The `filesystem` driver (Distribution's `storage.filesystem.rootdirectory`). Driver paths map one to one
// under the root directory, so a root written by Distribution's registry is served as it is, and back.
import { randomBytes } from 'node:crypto';
import {
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  type Dirent,
  type WriteStream,
} from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import {
  isAddressableName,
  checkOffset,
  checkPath,
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type FileWriter,
  type ReadOptions,
  type StorageDriver,
  type WalkOptions,
} from './driver.ts';
import { CoalescedReads } from './coalesced-reads.ts';
import { readWholeFile } from './read-whole-file.ts';
import { filesystemTypeOf, isLocalFilesystemType, SmallFileReads } from './small-file-reads.ts';

export interface FilesystemDriverOptions {
  rootDirectory: string;
  /**
   * Run getContent, stat, list and delete as blocking system calls (still behind the promise API). For
   * maintenance processes whose only work is storage metadata, such as garbage collection: every async fs
   * call is a round trip through libuv's thread pool (two futex wake-ups and an event-loop turn), which costs
   * more than the system call itself on a local disk or in the page cache. Never for the serving registry,
   * and not on network filesystems, where one slow call would stall everything behind it.
   */
  blocking?: boolean;
}

type Visitor = Parameters<StorageDriver['walk']>[1];

const driverName = 'filesystem';
/** putContent's scratch files; hidden from list() and walk() so no reader mistakes them for content. */
const tempPrefix = '.tmp-';
/** Under the root; its name starts with tempPrefix, so list() and walk() never show it. */
const scratchDirName = `${tempPrefix}scratch`;
const scratchMaxAgeMs = 60 * 60 * 1000;
// Large buffers keep syscall counts low when streaming multi-GiB blobs.
const readChunkSize = 1 << 20;
/**
 * How much of an upload body the writer queues before the client waits. Up to twice this is live at once (a
 * writev in flight, the next batch queued), and V8 counts every body Buffer allocated since its last
 * mark-compact against the old generation's limit. With 4 MiB, a push in a pod (a 512 MiB heap, so a ~1.4×
 * growing factor) crossed that limit every ~100 ms: 24 mark-compacts per 512 MiB push. Pushes with 1 MiB
 * measured faster, not slower (bench/README.md, "Push in a pod: body Buffers count against the old generation").
 */
const writeBufferSize = 1 << 20;
/** How often a streaming writer asks the disk to catch up (see FilesystemFileWriter.syncInBackground). */
const backgroundSyncBytes = 32 << 20;

/** Names the driver can address, less its own scratch files: anything else on disk (lost+found) is not content. */
function isVisible(name: string): boolean {
  return isAddressableName(name) && !name.startsWith(tempPrefix);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

/** Maps "nothing there" errno values to PathNotFoundError and rethrows the rest. */
function notFound(err: unknown, path: string, codes: readonly string[] = ['ENOENT', 'ENOTDIR']): never {
  const code = errorCode(err);
  if (code !== undefined && codes.includes(code))
    throw new PathNotFoundError(driverName, path, { cause: err });
  throw err;
}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export class FilesystemDriver implements StorageDriver {
  readonly name = driverName;
  readonly rootDirectory: string;
  private readonly blocking: boolean;
  /** Thread-pool reads, shared by callers that are served the same bytes: they must not modify them. */
  private readonly pooledReads = new CoalescedReads();
  /** Blocking reads of small files on a local filesystem, while they stay fast (see small-file-reads.ts). */
  readonly smallFileReads: SmallFileReads;

  constructor(options: FilesystemDriverOptions) {
    if (!options.rootDirectory) {
      throw new StorageDriverError(driverName, String(options.rootDirectory), 'rootdirectory is required');
    }
    this.rootDirectory = resolve(options.rootDirectory);
    this.blocking = options.blocking ?? false;
    const type = filesystemTypeOf(this.rootDirectory);
    this.smallFileReads = new SmallFileReads({
      local: type !== null && isLocalFilesystemType(type),
      pooled: (full) => this.pooledReads.read(full, readWholeFile),
    });
  }

  private fullPath(path: string): string {
    checkPath(driverName, path);
    // A checked path is already normal (absolute, no `.`, `..` or empty segments) and the root is resolved, so
    // joining is concatenation; path.join would normalise the whole string again on every read.
    return this.rootDirectory === '/' ? path : this.rootDirectory + path;
  }

  async getContent(path: string): Promise<Buffer> {
    const full = this.fullPath(path);
    try {
      return this.blocking ? readFileSync(full) : await this.smallFileReads.read(full);
    } catch (err) {
      notFound(err, path, ['ENOENT', 'ENOTDIR', 'EISDIR']);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const full = this.fullPath(path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    await mkdir(dirname(full), { recursive: true });
    // Scratch files live in one hidden directory under the root (same filesystem, so rename() is atomic),
    // where a crash cannot leave them beside content and a later start sweeps them away.
    const temp = join(await this.scratchDirectory(), randomBytes(8).toString('hex'));
    try {
      const handle = await open(temp, 'wx').catch(async (err: unknown) => {
        if (errorCode(err) !== 'ENOENT') throw err;
        // The scratch directory went away (e.g. delete('/')): recreate it once.
        await mkdir(dirname(temp), { recursive: true });
        return open(temp, 'wx');
      });
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, full);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  private scratchReady: Promise<string> | undefined;

  /** Creates the scratch directory once per process, removing what crashed writers left there long ago. */
  private scratchDirectory(): Promise<string> {
    this.scratchReady ??= (async () => {
      const dir = join(this.rootDirectory, scratchDirName);
      await mkdir(dir, { recursive: true });
      const cutoff = Date.now() - scratchMaxAgeMs;
      for (const name of await readdir(dir)) {
        const file = join(dir, name);
        // Other processes (replicas) may be writing right now: only old files are abandoned.
        const info = await lstat(file).catch(() => null);
        if (info && info.mtimeMs < cutoff) await rm(file, { force: true, recursive: true });
      }
      return dir;
    })().catch((err: unknown) => {
      this.scratchReady = undefined;
      throw err;
    });
    return this.scratchReady;
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    const full = this.fullPath(path);
    const offset = options.offset ?? 0;
    checkOffset(driverName, path, offset);
    if (options.end !== undefined) checkOffset(driverName, path, options.end);
    let handle: FileHandle;
    try {
      handle = await open(full, 'r');
    } catch (err) {
      notFound(err, path);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(driverName, path);
      if (offset > info.size) throw new InvalidOffsetError(driverName, path, offset);
      if (options.end !== undefined && options.end < offset) {
        await handle.close();
        return Readable.from([], { objectMode: false });
      }
      return handle.createReadStream({
        start: offset,
        ...(options.end === undefined ? {} : { end: options.end }),
        highWaterMark: readChunkSize,
      });
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async copyTo(path: string, destination: Writable, options: ReadOptions = {}): Promise<void> {
    const full = this.fullPath(path);
    const offset = options.offset ?? 0;
    checkOffset(driverName, path, offset);
    let handle: FileHandle;
    try {
      handle = await open(full, 'r');
    } catch (err) {
      notFound(err, path);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(driverName, path);
      if (offset > info.size) throw new InvalidOffsetError(driverName, path, offset);
      const end = Math.min(options.end ?? info.size - 1, info.size - 1);
      await copyRange(handle, offset, end, destination);
    } finally {
      await handle.close();
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const full = this.fullPath(path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    await mkdir(dirname(full), { recursive: true });
    let handle: FileHandle;
    let size = 0;
    if (append) {
      // Appending to nothing starts an empty file, as Distribution's driver does: the first chunk of an
      // upload is written through an append writer.
      try {
        handle = await open(full, 'r+');
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') notFound(err, path, ['ENOTDIR']);
        handle = await open(full, 'w');
      }
      try {
        const info = await handle.stat();
        if (info.isDirectory()) throw new PathNotFoundError(driverName, path);
        size = info.size;
      } catch (err) {
        await handle.close();
        throw err;
      }
    } else {
      try {
        handle = await open(full, 'w');
      } catch (err) {
        notFound(err, path, ['ENOTDIR']);
      }
    }
    return new FilesystemFileWriter(path, full, handle, size);
  }

  async stat(path: string): Promise<FileInfo> {
    const full = this.fullPath(path);
    try {
      const info = this.blocking ? statSync(full) : await stat(full);
      const isDir = info.isDirectory();
      return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
    } catch (err) {
      notFound(err, path);
    }
  }

  async list(path: string): Promise<string[]> {
    this.fullPath(path);
    return (await this.children(path, true)).map((name) => childPath(path, name));
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const source = this.fullPath(sourcePath);
    const dest = this.fullPath(destPath);
    try {
      // Checked first so a missing source does not leave the destination's parents behind.
      await lstat(source);
    } catch (err) {
      notFound(err, sourcePath);
    }
    await mkdir(dirname(dest), { recursive: true });
    try {
      await rename(source, dest);
    } catch (err) {
      notFound(err, sourcePath, ['ENOENT']);
    }
  }

  async delete(path: string): Promise<void> {
    const full = this.fullPath(path);
    if (path === '/') {
      // The root may be a mount point: empty it rather than remove it.
      const names = await this.children(path, true);
      for (const name of names) await rm(join(full, name), { recursive: true, force: true });
      return;
    }
    try {
      if (this.blocking) removeTreeSync(full);
      else await removeTree(full);
    } catch (err) {
      notFound(err, path);
    }
  }

  async redirectURL(path: string, _method: 'GET' | 'HEAD'): Promise<string | null> {
    this.fullPath(path);
    return null;
  }

  async walk(path: string, visit: Visitor, options: WalkOptions = {}): Promise<void> {
    this.fullPath(path);
    const names = await this.children(path, true);
    await this.walkDir(path, names, visit, options);
  }

  private async walkDir(dir: string, names: string[], visit: Visitor, options: WalkOptions): Promise<void> {
    for (const name of names) {
      const path = childPath(dir, name);
      let info: FileInfo;
      try {
        info = await this.stat(path);
      } catch (err) {
        // Removed since the directory was read (uploads purged, GC sweeping): not an error for a walk.
        if (err instanceof PathNotFoundError) continue;
        throw err;
      }
      await visit(info);
      if (!info.isDir || options.descend?.(info) === false) continue;
      let children: string[];
      try {
        children = await this.children(path, false);
      } catch (err) {
        if (err instanceof PathNotFoundError) continue;
        throw err;
      }
      await this.walkDir(path, children, visit, options);
    }
  }

  /** Sorted visible child names; an empty directory is "not found" when `emptyIsMissing`, as on object stores. */
  private async children(path: string, emptyIsMissing: boolean): Promise<string[]> {
    let names: string[];
    try {
      const dir = join(this.rootDirectory, path);
      names = this.blocking ? readdirSync(dir) : await readdir(dir);
    } catch (err) {
      notFound(err, path);
    }
    names = names.filter(isVisible).sort();
    if (emptyIsMissing && names.length === 0) throw new PathNotFoundError(driverName, path);
    return names;
  }
}

/** removeTree with blocking calls, for `blocking` drivers. */
function removeTreeSync(full: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(full, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) !== 'ENOTDIR') throw err;
    unlinkSync(full);
    return;
  }
  for (const entry of entries) {
    const child = join(full, entry.name);
    try {
      if (entry.isDirectory()) removeTreeSync(child);
      else unlinkSync(child);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  try {
    rmdirSync(full);
  } catch (err) {
    if (errorCode(err) === 'ENOTEMPTY') rmSync(full, { recursive: true, force: true });
    else if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Removes a file or a directory tree. Registry trees are small and shallow (a link dir holds one file), and
 * unlink/readdir/rmdir is several times faster than fs.rm's recursive walk for them — garbage collection
 * deletes tens of thousands. Throws ENOENT when nothing was there; tolerates concurrent removal below.
 */
async function removeTree(full: string): Promise<void> {
  // Most deletions are directories (a blob's or a link's): list first, so they cost no failed unlink.
  let entries: Dirent[];
  try {
    entries = await readdir(full, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) !== 'ENOTDIR') throw err;
    await unlink(full);
    return;
  }
  await Promise.all(
    entries.map(async (entry) => {
      const child = join(full, entry.name);
      try {
        if (entry.isDirectory()) await removeTree(child);
        else await unlink(child);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }),
  );
  try {
    await rmdir(full);
  } catch (err) {
    // Another deleter finished first, or a writer created something meanwhile: fall back to the slow path.
    if (errorCode(err) === 'ENOTEMPTY') await rm(full, { recursive: true, force: true });
    else if (errorCode(err) !== 'ENOENT') throw err;
  }
}

const copyBufferSize = 1 << 20;
const copyBuffers = 4;

/**
 * Copies bytes [start, end] of a file into a writable through a small pool of buffers. A buffer goes back to
 * the pool only when the destination reports its write done, so the pool bounds memory and nothing is
 * allocated per chunk; while one chunk is being sent the next is already being read.
 */
async function copyRange(
  handle: FileHandle,
  start: number,
  end: number,
  destination: Writable,
): Promise<void> {
  const free: Buffer[] = Array.from({ length: copyBuffers }, () => Buffer.allocUnsafe(copyBufferSize));
  let waiting: (() => void) | undefined;
  let failure: Error | undefined;
  const wake = () => {
    const resolve = waiting;
    waiting = undefined;
    resolve?.();
  };
  const onClose = () => {
    failure ??= new Error('destination closed before the content was sent');
    wake();
  };
  destination.once('close', onClose);
  try {
    let position = start;
    while (position <= end) {
      while (free.length === 0 && !failure) await new Promise<void>((resolve) => (waiting = resolve));
      if (failure) throw failure;
      const buffer = free.pop() as Buffer;
      const length = Math.min(buffer.length, end - position + 1);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead === 0) throw new Error(`file ended at ${position}, before ${end + 1}`);
      position += bytesRead;
      destination.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), (err) => {
        if (err) failure ??= err;
        free.push(buffer);
        wake();
      });
    }
    // The handle closes after this resolves: wait until every buffer is back, i.e. all writes are done.
    while (free.length < copyBuffers && !failure) await new Promise<void>((resolve) => (waiting = resolve));
    if (failure) throw failure;
  } finally {
    destination.off('close', onClose);
  }
}

type WriterState = 'open' | 'closing' | 'closed' | 'committed' | 'cancelled';

class FilesystemFileWriter implements FileWriter {
  private readonly path: string;
  private readonly fullPath: string;
  private readonly handle: FileHandle;
  private readonly stream: WriteStream;
  private written: number;
  private state: WriterState = 'open';
  private error: Error | undefined;
  /** The background fdatasync in flight, if any, and how much had been written when it started. */
  private syncing: Promise<void> | undefined;
  private syncedUpTo: number;

  constructor(path: string, fullPath: string, handle: FileHandle, size: number) {
    this.path = path;
    this.fullPath = fullPath;
    this.handle = handle;
    this.written = size;
    this.syncedUpTo = size;
    // The stream batches queued chunks into one writev() while a write is in flight; autoClose is off so
    // commit() can fsync before closing.
    this.stream = handle.createWriteStream({ start: size, highWaterMark: writeBufferSize, autoClose: false });
    this.stream.on('error', (err) => {
      this.error ??= err;
    });
  }

  get size(): number {
    return this.written;
  }

  async write(chunk: Uint8Array, released?: () => void): Promise<void> {
    this.assertOpen();
    if (this.error) throw this.error;
    if (chunk.byteLength === 0) {
      released?.();
      return;
    }
    this.written += chunk.byteLength;
    this.syncInBackground();
    // The stream keeps a reference to the chunk until it is written: its callback is the chunk's release.
    const written = released && ((err?: Error | null) => (err ? undefined : released()));
    if (this.stream.write(chunk, written)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
    });
  }

  close(): Promise<void> {
    return this.finish('closed');
  }

  /**
   * Starts an fdatasync every `backgroundSyncBytes` while a large upload streams in, so the disk writes the
   * blob while the rest arrives: the page cache would otherwise hold it all (far below the kernel's writeback
   * threshold on a big machine) and commit()'s fsync would write it in one go after the last byte, which
   * measured as about half of a 512 MiB push. Commit still fsyncs; this only moves the work earlier.
   */
  private syncInBackground(): void {
    if (this.syncing || this.written - this.syncedUpTo < backgroundSyncBytes) return;
    this.syncedUpTo = this.written;
    this.syncing = this.handle
      .datasync()
      .catch((err: unknown) => {
        this.error ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.syncing = undefined;
      });
  }

  commit(): Promise<void> {
    return this.finish('committed');
  }

  async cancel(): Promise<void> {
    if (this.state === 'committed') throw this.stateError();
    if (this.state === 'cancelled') return;
    const wasOpen = this.state === 'open';
    this.state = 'cancelled';
    if (wasOpen) await this.release();
    await rm(this.fullPath, { force: true });
  }

  private async finish(next: 'closed' | 'committed'): Promise<void> {
    this.assertOpen();
    this.state = 'closing';
    try {
      if (!this.error) {
        await new Promise<void>((resolve, reject) => {
          this.stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
        });
        await this.syncing;
        if (next === 'committed' && !this.error) await this.handle.sync();
      }
    } finally {
      this.state = next;
      await this.release();
    }
    if (this.error) throw this.error;
  }

  /** Closes the file. The stream holds a reference on the FileHandle, so the stream must be the one to close it. */
  private async release(): Promise<void> {
    // The handle must outlive a background sync (closing it under one would fail that sync, or worse).
    await this.syncing;
    if (this.stream.closed) return;
    const closed = new Promise<void>((resolve) => this.stream.once('close', () => resolve()));
    // Destroying closes the handle even with autoClose off, once an in-flight write has settled.
    this.stream.destroy();
    await closed;
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw this.stateError();
  }

  private stateError(): StorageDriverError {
    return new StorageDriverError(driverName, this.path, `writer is ${this.state}`);
  }
}
