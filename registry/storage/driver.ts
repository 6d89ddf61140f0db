// The storage driver contract. Every backend (filesystem, inmemory, s3, gcs, azure) implements it; everything
// above it (the content store, garbage collection, migration) speaks only this interface.
//
// Paths are absolute, slash-separated and rooted at the driver's root directory
// (e.g. `/docker/registry/v2/blobs/sha256/ab/<hex>/data`). The interface assumes neither rename nor append from
// the backend: `move` may be copy+delete, and a `FileWriter` opened with `append` may be implemented with
// multipart uploads or composed segments.
import { Readable, type Writable } from 'node:stream';

export interface FileInfo {
  path: string;
  /** Size in bytes; 0 for directories. */
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface FileWriter {
  /** Bytes written so far, including bytes from earlier sessions when opened with append. */
  readonly size: number;
  /**
   * Writes a chunk; resolves when the writer takes the next one (backpressure). The writer may still read the
   * chunk after that (the filesystem writer queues it for one `writev`), so a caller must leave it unchanged
   * and learns from `released`, called once at most, when the writer no longer reads it: at the end of
   * `write` for writers that copy, when the bytes are written for the filesystem. A writer that fails may never
   * call it.
   */
  write(chunk: Uint8Array, released?: () => void): Promise<void>;
  /** Persists what was written so the writer can be resumed later with append=true. */
  close(): Promise<void>;
  /** Makes the content readable at the writer's path and releases resources. */
  commit(): Promise<void>;
  /** Discards everything written, including earlier sessions. */
  cancel(): Promise<void>;
}

export interface ReadOptions {
  /** First byte to read (inclusive). */
  offset?: number;
  /** Last byte to read (inclusive). */
  end?: number;
}

export interface WalkOptions {
  /** Called for each directory before descending; return false to skip it. */
  descend?: (dir: FileInfo) => boolean;
}

export interface StorageDriver {
  readonly name: string;
  /**
   * True when walk() is a flat listing with sizes — one request per page of files whatever the depth (object
   * stores); absent when it costs a call per entry (filesystem). Bulk readers such as the garbage collector
   * pick walk() or list() + stat() by it.
   */
  readonly flatWalk?: boolean;
  /** Reads a whole small object (links, manifests). Throws PathNotFoundError. */
  getContent(path: string): Promise<Buffer>;
  /** Writes a whole small object atomically: readers see the old or the new content, never a part. */
  putContent(path: string, content: Uint8Array): Promise<void>;
  /** Streams an object, optionally a byte range. Throws PathNotFoundError, InvalidOffsetError. */
  reader(path: string, options?: ReadOptions): Promise<Readable>;
  /**
   * Optional fast path for serving content: writes a byte range straight into `destination` (a socket) from a
   * few reused buffers, where `reader()` allocates a buffer per chunk and leaves the garbage collector to
   * reclaim gigabytes. Resolves when everything was handed to the destination; does not end it.
   */
  copyTo?(path: string, destination: Writable, options?: ReadOptions): Promise<void>;
  /** Opens a writer; with append, continues an object left by FileWriter.close(). */
  writer(path: string, append: boolean): Promise<FileWriter>;
  /**
   * Optional: a fresh writer whose content appears at `path` only on commit(), whole, and whose cancel() leaves
   * whatever was at `path` before untouched (close() is not for it). Object stores can (S3: a multipart
   * upload); it lets a push whose whole body arrives in one request go straight to the blob's final key,
   * where otherwise the verified upload is copied there (a second full write on an object store).
   */
  stagedWriter?(path: string): Promise<FileWriter>;
  /** Throws PathNotFoundError. Directories are implied by objects below them on object stores. */
  stat(path: string): Promise<FileInfo>;
  /** Direct children of a directory, as absolute paths. Throws PathNotFoundError when empty/missing. */
  list(path: string): Promise<string[]>;
  /** Moves an object, replacing the destination. Not guaranteed atomic on object stores. */
  move(sourcePath: string, destPath: string): Promise<void>;
  /** Deletes an object or a whole subtree. Throws PathNotFoundError when nothing was there. */
  delete(path: string): Promise<void>;
  /**
   * Optional: deletes these files (objects, not directories) in as few requests as the store allows; files
   * already gone are not an error. Object stores only, where a directory is nothing but the objects below it.
   */
  deleteFiles?(paths: readonly string[]): Promise<void>;
  /** A URL the client may be redirected to for GET/HEAD, or null when the driver serves content itself. */
  redirectURL(path: string, method: 'GET' | 'HEAD'): Promise<string | null>;
  /** Visits every file and directory below path, depth first, in lexical order. */
  walk(path: string, visit: (info: FileInfo) => void | Promise<void>, options?: WalkOptions): Promise<void>;
}

export class StorageDriverError extends Error {
  readonly driver: string;
  readonly path: string;
  constructor(driver: string, path: string, message: string, options?: { cause?: unknown }) {
    super(`${driver}: ${message}: ${path}`, options);
    this.name = 'StorageDriverError';
    this.driver = driver;
    this.path = path;
  }
}

export class PathNotFoundError extends StorageDriverError {
  constructor(driver: string, path: string, options?: { cause?: unknown }) {
    super(driver, path, 'path not found', options);
    this.name = 'PathNotFoundError';
  }
}

export class InvalidPathError extends StorageDriverError {
  constructor(driver: string, path: string) {
    super(driver, path, 'invalid path');
    this.name = 'InvalidPathError';
  }
}

export class InvalidOffsetError extends StorageDriverError {
  readonly offset: number;
  constructor(driver: string, path: string, offset: number) {
    super(driver, path, `invalid offset ${offset}`);
    this.name = 'InvalidOffsetError';
    this.offset = offset;
  }
}

export function isPathNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}

/** A path segment the driver interface can address; anything else found in a backend is not content. */
export function isAddressableName(name: string): boolean {
  return segmentPattern.test(name) && name !== '.' && name !== '..';
}

const segmentPattern = /^[A-Za-z0-9._:-]+$/;

/**
 * The sorted child paths of `path` from the names a listing found below it, keeping only addressable ones
 * (object stores may hold marker objects or keys from other tools). Throws PathNotFoundError when none remain.
 */
export function childPaths(driver: string, path: string, names: Iterable<string>): string[] {
  const children = [...names]
    .filter(isAddressableName)
    .sort()
    .map((name) => (path === '/' ? `/${name}` : `${path}/${name}`));
  if (children.length === 0) throw new PathNotFoundError(driver, path);
  return children;
}

/** Checks both paths of a move; the root can be neither moved nor replaced. */
export function checkMovePaths(driver: string, sourcePath: string, destPath: string): void {
  checkPath(driver, sourcePath);
  checkPath(driver, destPath);
  if (sourcePath === '/' || destPath === '/') {
    throw new InvalidPathError(driver, sourcePath === '/' ? sourcePath : destPath);
  }
}

/**
 * Paths must be absolute, made of `[A-Za-z0-9._:-]` segments, with no `.`/`..` or empty segments. One
 * regular expression and no split: every manifest GET checks two paths.
 */
const pathPattern = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._:-]+)+$/;

export function checkPath(driver: string, path: string): void {
  if (path !== '/' && !pathPattern.test(path)) throw new InvalidPathError(driver, path);
}

/** Throws InvalidOffsetError unless `value` is a whole, non-negative byte offset. */
export function checkOffset(driver: string, path: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidOffsetError(driver, path, value);
}

/** A read's byte range, checked. `empty`: the end lies before the offset, so nothing is to be read. */
export interface ReadRange {
  offset: number;
  end: number | undefined;
  /** The whole object: no Range header to send. */
  whole: boolean;
  empty: boolean;
}

export function checkReadRange(driver: string, path: string, options: ReadOptions): ReadRange {
  const offset = options.offset ?? 0;
  const { end } = options;
  checkOffset(driver, path, offset);
  if (end !== undefined) checkOffset(driver, path, end);
  return { offset, end, whole: offset === 0 && end === undefined, empty: end !== undefined && end < offset };
}

/**
 * A read that yields no bytes on an object store (an end before the offset, or the store's 416 for an offset
 * at or past the end): as on the filesystem, the object must exist and the offset must not lie past its end.
 */
export async function emptyRead(
  driver: string,
  path: string,
  offset: number,
  size: () => Promise<number>,
): Promise<Readable> {
  if (offset > (await size())) throw new InvalidOffsetError(driver, path, offset);
  return Readable.from([], { objectMode: false });
}

/** A numeric driver option, or its default, within [min, max]; the error names the option. */
export function boundedOption(
  driver: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new StorageDriverError(driver, name, `must be an integer between ${min} and ${max}, got ${v}`);
  }
  return v;
}
