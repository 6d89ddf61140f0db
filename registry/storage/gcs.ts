// The `gcs` driver (Distribution's `storage.gcs`): objects in one bucket at key = rootdirectory + path without the
// leading slash, exactly as Distribution's gcs driver stores them, so a bucket written by either registry is
// served by the other. Directories are implied by the names below them (prefix + delimiter listings).
//
// Credentials, as Distribution: `keyfile` (a service-account JSON key file), or `credentials` (the same JSON
// inline), or else Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server, ...).
//
// Emulators: Distribution's driver sits on the Go client, which honours STORAGE_EMULATOR_HOST ("host:port" or a
// URL) by sending every request there, unauthenticated. This driver does the same, and takes an explicit
// `endpoint` option (tests) that wins over the variable. Either way the endpoint is normalised here (no scheme
// means http, as in the Go client) and handed to @google-cloud/storage as `apiEndpoint`; the Node library's
// own, differently parsed reading of STORAGE_EMULATOR_HOST is overridden, so both forms behave the same.
//
// Redirects: blob GETs are redirected to V4 signed URLs when the configured credentials hold a private key
// (`keyfile`/`credentials` of a service account); they are signed locally and expire after 20 minutes, as
// Distribution's. Without a private key (ADC on a VM, workload identity) redirectURL returns null and the
// registry serves the bytes itself. HEAD is never redirected: V4 signatures bind the HTTP method and the client
// library signs only GET/PUT/DELETE/POST, so the registry answers HEAD from stat(). With an emulator endpoint the
// signed URLs point at it (fake-gcs-server serves `/<bucket>/<object>` without checking signatures).
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Storage, type Bucket, type File, type StorageOptions } from '@google-cloud/storage';
import {
  emptyRead,
  checkReadRange,
  checkMovePaths,
  childPaths,
  checkPath,
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  type FileInfo,
  type FileWriter,
  type ReadOptions,
  type StorageDriver,
  type WalkOptions,
} from './driver.ts';
import {
  contentType,
  driverError,
  driverName,
  generationOf,
  isNotFound,
  isPreconditionFailed,
  type GcsTarget,
} from './gcs-common.ts';
import { GcsFileWriter, type ExistingObject } from './gcs-writer.ts';
import { walkFlatListing, type ListPage } from './s3-walk.ts';

type Visitor = Parameters<StorageDriver['walk']>[1];

const KiB = 1024;
const MiB = 1024 * KiB;
/** Resumable uploads go in multiples of 256 KiB. */
export const GCS_CHUNK_QUANTUM = 256 * KiB;
/** Distribution's default `chunksize`. */
export const GCS_DEFAULT_CHUNK_SIZE = 5 * MiB;

export interface GcsDriverOptions {
  bucket: string;
  /** Path of a service-account JSON key file. */
  keyFile?: string;
  /** A service-account key inline (its JSON fields: client_email, private_key, project_id, ...). */
  credentials?: Record<string, unknown>;
  /** Prefix of every key; leading and trailing slashes are ignored. */
  rootDirectory?: string;
  /** Resumable-upload chunk size: a multiple of 256 KiB, default 5 MiB. */
  chunkSize?: number;
  /**
   * An emulator or private endpoint (`http://host:port`, or `host:port` for http), sent requests without
   * authentication. Default: STORAGE_EMULATOR_HOST when set, else Google's endpoint.
   */
  endpoint?: string;
  /** Signed redirect URLs for blob GETs when a private key is configured; default true. */
  redirect?: boolean;
  /** Lifetime of a signed URL; default 20 minutes. */
  redirectExpirySeconds?: number;
  /** Storage operations in flight at once for a recursive delete; default 16. */
  deleteConcurrency?: number;
}

/** The endpoint from an option or STORAGE_EMULATOR_HOST, as a URL without a trailing slash. */
export function gcsEndpoint(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().replace(/\/+$/, '');
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
}

interface SigningKey {
  client_email: string;
  private_key: string;
}

function signingKey(credentials: Record<string, unknown> | undefined): SigningKey | undefined {
  const email = credentials?.['client_email'];
  const key = credentials?.['private_key'];
  return typeof email === 'string' && typeof key === 'string' && key.includes('PRIVATE KEY')
    ? { client_email: email, private_key: key }
    : undefined;
}

interface ObjectHead {
  size: number;
  generation: number;
  modTime: Date;
}

interface ListedPage {
  objects: { name: string; size: number; modTime: Date }[];
  prefixes: string[];
  next?: string;
}

export class GcsDriver implements StorageDriver, GcsTarget {
  readonly name = driverName;
  readonly flatWalk = true;
  readonly storage: Storage;
  readonly bucket: Bucket;
  /** The key prefix for the root directory, without slashes ('' for the bucket's top). */
  readonly rootPrefix: string;
  readonly chunkSize: number;
  /** The endpoint requests go to when it is not Google's (emulator). */
  readonly endpoint: string | undefined;
  /** Whether blob GETs are redirected to signed URLs (a private key is configured, redirects are on). */
  readonly signs: boolean;
  private readonly redirectExpirySeconds: number;
  private readonly deleteConcurrency: number;

  constructor(options: GcsDriverOptions) {
    if (!options.bucket) throw new StorageDriverError(driverName, 'bucket', 'a bucket is required');
    this.rootPrefix = (options.rootDirectory ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
    const chunkSize = options.chunkSize ?? GCS_DEFAULT_CHUNK_SIZE;
    if (
      !Number.isSafeInteger(chunkSize) ||
      chunkSize < GCS_CHUNK_QUANTUM ||
      chunkSize % GCS_CHUNK_QUANTUM !== 0
    ) {
      throw new StorageDriverError(
        driverName,
        'chunksize',
        `must be a positive multiple of ${GCS_CHUNK_QUANTUM} (256 KiB), got ${chunkSize}`,
      );
    }
    this.chunkSize = chunkSize;
    this.redirectExpirySeconds = options.redirectExpirySeconds ?? 20 * 60;
    this.deleteConcurrency = options.deleteConcurrency ?? 16;

    let credentials = options.credentials;
    if (options.keyFile !== undefined && credentials === undefined) {
      try {
        credentials = JSON.parse(readFileSync(options.keyFile, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new StorageDriverError(driverName, options.keyFile, 'keyfile: cannot read a JSON key', {
          cause: err,
        });
      }
    }
    this.endpoint = gcsEndpoint(options.endpoint ?? process.env['STORAGE_EMULATOR_HOST']);
    const projectId = credentials?.['project_id'];
    const common: StorageOptions = {
      ...(typeof projectId === 'string' ? { projectId } : {}),
      ...(this.endpoint !== undefined ? { apiEndpoint: this.endpoint } : {}),
    };
    this.storage = new Storage({
      ...common,
      ...(options.keyFile !== undefined && options.credentials === undefined
        ? { keyFilename: options.keyFile }
        : credentials !== undefined
          ? { credentials: credentials as StorageOptions['credentials'] }
          : {}),
      retryOptions: { autoRetry: true, maxRetries: 4 },
    });
    if (this.endpoint !== undefined) {
      // The library takes STORAGE_EMULATOR_HOST verbatim as its base URL; use the normalised endpoint instead.
      this.storage.baseUrl = `${this.endpoint}/storage/v1`;
    }
    this.bucket = this.storage.bucket(options.bucket);
    // Signing is local (RSA with the configured key) and needs no request, so the same client signs.
    this.signs = (options.redirect ?? true) && signingKey(credentials) !== undefined;
  }

  async requestHeaders(url: string): Promise<Record<string, string>> {
    if (this.endpoint !== undefined) return {};
    return Object.fromEntries(await this.storage.authClient.getRequestHeaders(url));
  }

  /** The object key of a driver path. */
  key(path: string): string {
    if (path === '/') return this.rootPrefix;
    return this.rootPrefix === '' ? path.slice(1) : `${this.rootPrefix}${path}`;
  }

  /** The key prefix of everything below a driver path. */
  private dirPrefix(path: string): string {
    const key = this.key(path);
    return key === '' ? '' : `${key}/`;
  }

  async getContent(path: string): Promise<Buffer> {
    checkPath(driverName, path);
    if (path === '/') throw new PathNotFoundError(driverName, path);
    const res = await this.media(path);
    try {
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw driverError(path, 'download', err);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    try {
      // A single-request upload: the object appears whole or not at all.
      await this.bucket
        .file(this.key(path))
        .save(Buffer.from(content.buffer, content.byteOffset, content.byteLength), {
          resumable: false,
          validation: false,
          metadata: { contentType },
        });
    } catch (err) {
      throw driverError(path, 'upload', err);
    }
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    checkPath(driverName, path);
    const { offset, end, whole, empty } = checkReadRange(driverName, path, options);
    const size = async (): Promise<number> => (await this.headFile(path)).size;
    if (empty) return emptyRead(driverName, path, offset, size);
    const range = whole ? undefined : `bytes=${offset}-${end ?? ''}`;
    const res = await this.media(path, range);
    if (res.status === 416) {
      // At or past the end (or the object is empty).
      await res.body?.cancel();
      return emptyRead(driverName, path, offset, size);
    }
    if (range !== undefined && res.status !== 206) {
      await res.body?.cancel();
      throw new StorageDriverError(driverName, path, `ranged read answered with ${res.status}, not 206`);
    }
    if (res.body === null) return Readable.from([], { objectMode: false });
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    let base: ExistingObject | undefined;
    if (append) {
      // Appending to nothing starts empty, as on the filesystem driver.
      try {
        const head = await this.headFile(path);
        base = { size: head.size, generation: head.generation };
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    return new GcsFileWriter(this, path, this.key(path), base, append);
  }

  async stat(path: string): Promise<FileInfo> {
    checkPath(driverName, path);
    if (path !== '/') {
      try {
        const head = await this.headFile(path);
        return { path, size: head.size, modTime: head.modTime, isDir: false };
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    // Not an object: a directory when some name lies below it.
    const page = await this.listPage(path, { prefix: this.dirPrefix(path), maxResults: 1 });
    const first = page.objects[0];
    if (first === undefined) throw new PathNotFoundError(driverName, path);
    return { path, size: 0, modTime: first.modTime, isDir: true };
  }

  async list(path: string): Promise<string[]> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const names = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page = await this.listPage(path, { prefix, delimiter: '/', ...(pageToken ? { pageToken } : {}) });
      for (const object of page.objects) names.add(object.name.slice(prefix.length));
      for (const common of page.prefixes) names.add(common.slice(prefix.length, -1));
      pageToken = page.next;
    } while (pageToken !== undefined);
    return childPaths(driverName, path, names);
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    checkMovePaths(driverName, sourcePath, destPath);
    // Objects only, as on every object store: a directory is not something that can be moved.
    const source = await this.headFile(sourcePath);
    if (sourcePath === destPath) return;
    const sourceKey = this.key(sourcePath);
    try {
      // A rewrite server-side (the library follows rewrite tokens for large objects), of the generation seen.
      await this.bucket
        .file(sourceKey, { generation: source.generation })
        .copy(this.bucket.file(this.key(destPath)), { contentType });
    } catch (err) {
      throw driverError(sourcePath, 'copy', err);
    }
    try {
      await this.bucket.file(sourceKey).delete({ ifGenerationMatch: source.generation });
    } catch (err) {
      // Gone already, or replaced since: either way the moved content is at the destination.
      if (!isNotFound(err) && !isPreconditionFailed(err)) throw driverError(sourcePath, 'delete', err);
    }
  }

  async delete(path: string): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    let found = false;
    let pageToken: string | undefined;
    do {
      const page = await this.listPage(path, { prefix, ...(pageToken ? { pageToken } : {}) });
      const names = page.objects.map((o) => o.name);
      // An object with the directory's own name goes too (possible on GCS, though never in a registry).
      if (!found && path !== '/' && names.length > 0) names.push(this.key(path));
      if (names.length > 0) {
        found = true;
        await this.deleteNames(path, names);
      }
      pageToken = page.next;
    } while (pageToken !== undefined);
    if (found) return;
    if (path === '/') throw new PathNotFoundError(driverName, path);
    // Not a directory: a single object, which must exist.
    try {
      await this.bucket.file(this.key(path)).delete();
    } catch (err) {
      throw driverError(path, 'delete', err);
    }
  }

  private async deleteNames(path: string, names: string[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < names.length; i = next++) {
        const name = names[i];
        if (name === undefined) continue;
        try {
          await this.bucket.file(name).delete();
        } catch (err) {
          if (!isNotFound(err)) throw driverError(path, `delete ${name}`, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deleteConcurrency, names.length) }, worker));
  }

  async redirectURL(path: string, method: 'GET' | 'HEAD'): Promise<string | null> {
    checkPath(driverName, path);
    if (!this.signs || method !== 'GET') return null;
    try {
      const [url] = await this.bucket.file(this.key(path)).getSignedUrl({
        version: 'v4',
        action: 'read',
        expires: Date.now() + this.redirectExpirySeconds * 1000,
      });
      return url;
    } catch (err) {
      throw driverError(path, 'sign URL', err);
    }
  }

  async walk(path: string, visit: Visitor, options: WalkOptions = {}): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const listPage: ListPage = async ({ next, startAfter }) => {
      // startOffset is inclusive; the walk only ever starts after a name no object has (`<dir>/~`).
      const page = await this.listPage(path, {
        prefix,
        ...(next !== undefined ? { pageToken: next } : {}),
        ...(startAfter !== undefined ? { startOffset: prefix + startAfter } : {}),
      });
      return {
        objects: page.objects.map((o) => ({
          key: o.name.slice(prefix.length),
          size: o.size,
          modTime: o.modTime,
        })),
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    };
    if (!(await walkFlatListing(path, listPage, visit, options)))
      throw new PathNotFoundError(driverName, path);
  }

  /** Nothing to release: the library keeps no state beyond pooled sockets. */
  destroy(): void {
    // Present for symmetry with the S3 driver.
  }

  /**
   * A media GET of an object (the JSON API's `alt=media`), straight with fetch: one request, the body streamed
   * as it arrives. (The client library's download stream adds two stream layers and, for bodies above 64 KiB,
   * piles listeners on them.) Requests to an emulator endpoint go unauthenticated, as the library's do.
   * Resolves with a 200, 206 or 416 response; throws PathNotFoundError or StorageDriverError otherwise.
   */
  private async media(path: string, range?: string): Promise<Response> {
    const base = this.endpoint ?? this.storage.apiEndpoint;
    const url = `${base}/storage/v1/b/${encodeURIComponent(this.bucket.name)}/o/${encodeURIComponent(this.key(path))}?alt=media`;
    let res: Response;
    try {
      const headers = new Headers(await this.requestHeaders(url));
      if (range !== undefined) headers.set('range', range);
      res = await fetch(url, { headers });
    } catch (err) {
      throw driverError(path, 'download', err);
    }
    if (res.ok || res.status === 416) return res;
    const detail = (await res.text().catch(() => '')).slice(0, 200);
    const failure = Object.assign(new Error(`${res.status} ${res.statusText} ${detail}`.trim()), {
      code: res.status,
    });
    throw driverError(path, 'download', failure);
  }

  private async listPage(
    path: string,
    query: {
      prefix: string;
      delimiter?: string;
      maxResults?: number;
      pageToken?: string;
      startOffset?: string;
    },
  ): Promise<ListedPage> {
    try {
      const [files, , response] = await this.bucket.getFiles({ ...query, autoPaginate: false });
      const raw = (typeof response === 'object' && response !== null ? response : {}) as {
        prefixes?: unknown;
        nextPageToken?: unknown;
      };
      const prefixes = Array.isArray(raw.prefixes)
        ? raw.prefixes.filter((p): p is string => typeof p === 'string')
        : [];
      const next =
        typeof raw.nextPageToken === 'string' && raw.nextPageToken !== '' ? raw.nextPageToken : undefined;
      return {
        objects: files.map((f: File) => ({
          name: f.name,
          size: Number(f.metadata.size ?? 0),
          modTime: new Date(f.metadata.updated ?? 0),
        })),
        prefixes,
        ...(next !== undefined ? { next } : {}),
      };
    } catch (err) {
      throw driverError(path, 'list', err);
    }
  }

  /** Size, generation and time of an object; PathNotFoundError when there is none (a directory is none). */
  private async headFile(path: string): Promise<ObjectHead> {
    if (path === '/') throw new PathNotFoundError(driverName, path);
    try {
      const [metadata] = await this.bucket.file(this.key(path)).getMetadata();
      return {
        size: Number(metadata.size ?? 0),
        generation: generationOf(metadata) ?? 0,
        modTime: new Date(metadata.updated ?? 0),
      };
    } catch (err) {
      throw driverError(path, 'get metadata', err);
    }
  }
}
