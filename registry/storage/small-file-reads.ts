// Small whole-file reads for the serving registry's filesystem driver. Every manifest GET reads two links
// (71 bytes each); on a local filesystem with the file in the page cache, open + read + close take a few
// microseconds as blocking calls, while each call through libuv's thread pool costs two futex wake-ups and an
// event-loop turn: 300 µs per GET instead of ~190 at 32 connections (bench/README.md, "Manifest GET").
//
// So files up to `blockingLimit` bytes are read with blocking calls, but only where that is safe:
// - only on a local filesystem (ext4, xfs, btrfs, tmpfs, overlay, zfs, f2fs); NFS, SMB, CephFS and FUSE mounts
//   can stall a call for seconds, and there every read goes through the thread pool;
// - only while they stay fast: a blocking read that takes longer than `slowMs` (a page-cache miss on a busy
//   disk, a device that stalls) sends every read through the thread pool for the next `pauseMs`, so a slow
//   disk costs the event loop at most one slow call per pause.
// Larger files, and every read while paused, take the thread pool (`pooled`).
import { closeSync, openSync, readSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/** statfs(2) f_type magic numbers of filesystems whose calls never wait on a network or a user process. */
const localFilesystemTypes = new Map<number, string>([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
]);

export function isLocalFilesystemType(type: number): boolean {
  return localFilesystemTypes.has(type);
}

/** The statfs type of the filesystem holding `path`, or of its nearest existing ancestor; null if none. */
export function filesystemTypeOf(path: string): number | null {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      return statfsSync(dir).type;
    } catch {
      if (dirname(dir) === dir) return null;
    }
  }
}

export interface SmallFileReadsOptions {
  /** Whether blocking reads may be used at all (false on network filesystems). */
  local: boolean;
  /** Reads a whole file without blocking the event loop. */
  pooled: (path: string) => Promise<Buffer>;
  blockingLimit?: number;
  slowMs?: number;
  pauseMs?: number;
  /** Milliseconds, monotonic; a parameter so tests can make a read look slow. */
  now?: () => number;
}

export class SmallFileReads {
  readonly local: boolean;
  readonly #pooled: (path: string) => Promise<Buffer>;
  readonly #limit: number;
  readonly #slowMs: number;
  readonly #pauseMs: number;
  readonly #now: () => number;
  /** Blocking reads are off until this time (after a slow one). */
  #pausedUntil = 0;
  /** Reused for every blocking read: the caller gets a copy of the bytes read. */
  readonly #scratch: Buffer;
  readonly counts = { blocking: 0, pooled: 0, slow: 0 };

  constructor(options: SmallFileReadsOptions) {
    this.local = options.local;
    this.#pooled = options.pooled;
    this.#limit = options.blockingLimit ?? 16 * 1024;
    this.#slowMs = options.slowMs ?? 5;
    this.#pauseMs = options.pauseMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
    this.#scratch = Buffer.allocUnsafeSlow(this.#limit + 1);
  }

  /** Whether the next read may block (local filesystem, no slow read lately). */
  get blockingAllowed(): boolean {
    return this.#mayBlockAt(this.#now());
  }

  #mayBlockAt(time: number): boolean {
    return this.local && time >= this.#pausedUntil;
  }

  read(path: string): Promise<Buffer> {
    const started = this.#now();
    if (!this.#mayBlockAt(started)) return this.#pool(path);
    let content: Buffer | null;
    try {
      content = this.#readBlocking(path);
    } catch (err) {
      return Promise.reject(err);
    } finally {
      this.#checkDuration(started);
    }
    if (content === null) return this.#pool(path);
    this.counts.blocking++;
    return Promise.resolve(content);
  }

  #pool(path: string): Promise<Buffer> {
    this.counts.pooled++;
    return this.#pooled(path);
  }

  /** The file's bytes, or null when it is larger than the limit (read it again through the pool). */
  #readBlocking(path: string): Buffer | null {
    const fd = openSync(path, 'r');
    try {
      // One byte more than the limit: a full read means "larger", a short one is the whole file (a regular
      // file reads short only at its end).
      const length = readSync(fd, this.#scratch, 0, this.#scratch.length, 0);
      if (length > this.#limit) return null;
      // A store of its own, not a slice of Buffer's shared 8 KiB pool: a pool slab lives as long as any of the
      // ~115 links cut from it, under load some are promoted, and they piled up as external memory until the
      // next full GC (33 MiB after 20 s of manifest GETs; bench/README.md, "Memory under manifest load").
      const content = Buffer.allocUnsafeSlow(length);
      this.#scratch.copy(content, 0, 0, length);
      return content;
    } finally {
      closeSync(fd);
    }
  }

  #checkDuration(started: number): void {
    const now = this.#now();
    if (now - started <= this.#slowMs) return;
    this.counts.slow++;
    this.#pausedUntil = now + this.#pauseMs;
  }
}
