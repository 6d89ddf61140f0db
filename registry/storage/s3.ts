// The `s3` driver (Distribution's `storage.s3`): objects in one bucket at key = rootdirectory + path without the
// leading slash, exactly as Distribution's S3 driver stores them, so a bucket written by either registry is
// served by the other. Directories are implied by the keys below them.
//
// Requests go through @aws-sdk/client-s3 with its standard retry strategy (exponential backoff with jitter on
// throttling, 5xx and network errors) and, with `maxrequestspersecond`, a client-side limiter that every
// attempt passes before it is signed and sent. Blob reads may be redirected to presigned GET/HEAD URLs.
import { Agent as HttpsAgent } from 'node:https';
import { Readable, type Writable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type ListObjectsV2CommandOutput,
  type ObjectCannedACL,
  type S3ClientConfig,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  emptyRead,
  checkReadRange,
  checkMovePaths,
  childPaths,
  boundedOption,
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
  copySource,
  driverError,
  driverName,
  errorName,
  httpStatus,
  isMissingObject,
  maxPartSize,
  maxParts,
  minPartSize,
  type ObjectParams,
  type S3Target,
} from './s3-common.ts';
import { http } from '../node-http.ts';
import { RawConnectionPool, rawGet, writeAll, type RawGetResult } from './s3-copy.ts';
import { S3_STORAGE_CLASSES, isS3StorageClass } from './s3-params.ts';
import { RequestRateLimiter } from './s3-rate.ts';
import { walkFlatListing, type ListPage } from './s3-walk.ts';
import { S3FileWriter, type ExistingObject } from './s3-writer.ts';

type Visitor = Parameters<StorageDriver['walk']>[1];

const MiB = 1024 * 1024;
/** copyTo's presigned URLs are used at once; the signature is only checked when the request arrives. */
const copyUrlExpirySeconds = 15 * 60;

export const S3_OBJECT_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, ...); without a scheme, `secure` picks https or http. */
  regionEndpoint?: string;
  /**
   * Path-style addressing (`endpoint/bucket/key`). Unset: on with a `regionEndpoint` (Distribution 2.8 always
   * used path style with a custom endpoint, so its MinIO configs carry no such key), off for AWS itself.
   */
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default chain (env, profile, web identity, IMDS, ...) applies. */
  accessKey?: string;
  secretKey?: string;
  sessionToken?: string;
  /** Prefix of every key; leading and trailing slashes are ignored. */
  rootDirectory?: string;
  /** Server-side encryption: SSE-S3 (AES256), or SSE-KMS with `keyId` (ignored without `encrypt`). */
  encrypt?: boolean;
  keyId?: string;
  /** Default true. */
  secure?: boolean;
  /** Accept any TLS certificate from the endpoint. */
  skipVerify?: boolean;
  /** Multipart part size; default 10 MiB, at least 5 MiB. */
  chunkSize?: number;
  /** Move: objects above the threshold (default 32 MiB) are copied in parts of this size (default 32 MiB). */
  multipartCopyChunkSize?: number;
  multipartCopyMaxConcurrency?: number;
  multipartCopyThresholdSize?: number;
  /** Default STANDARD; NONE sends none (for services without storage classes). */
  storageClass?: string;
  /** A canned ACL sent with every new object; none by default (bucket-owner-enforced buckets reject ACLs). */
  objectAcl?: string;
  userAgent?: string;
  useDualStack?: boolean;
  accelerate?: boolean;
  /** Upper bound on requests per second to the backend, retries included; 0 or unset for none. */
  maxRequestsPerSecond?: number;
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** Presigned redirect URLs for blob reads; default true. */
  redirect?: boolean;
  /** Lifetime of a presigned URL; default 20 minutes, as Distribution's. */
  redirectExpirySeconds?: number;
  /** Parts one writer uploads at once (default 3); memory per writer is about (this + 1) × chunkSize. */
  partConcurrency?: number;
  /**
   * copyTo's HTTP client: s3-copy.ts's own ('raw') or undici. For the bench only (bench/s3-copy.ts); unset: the
   * environment's BERTH_S3_COPY_CLIENT, else 'raw'.
   */
  copyClient?: 'raw' | 'undici';
}

function storageClassParam(value: string | undefined): StorageClass | undefined {
  const upper = (value ?? 'STANDARD').toUpperCase();
  if (!isS3StorageClass(upper)) {
    throw new StorageDriverError(
      driverName,
      'storageclass',
      `must be one of ${S3_STORAGE_CLASSES.join(', ')}, got ${String(value)}`,
    );
  }
  return upper === 'NONE' ? undefined : (upper as StorageClass);
}

function aclParam(value: string | undefined): ObjectCannedACL | undefined {
  if (value === undefined) return undefined;
  if (!(S3_OBJECT_ACLS as readonly string[]).includes(value)) {
    throw new StorageDriverError(driverName, 'objectacl', `must be one of ${S3_OBJECT_ACLS.join(', ')}`);
  }
  return value as ObjectCannedACL;
}

export class S3Driver implements StorageDriver, S3Target {
  readonly name = driverName;
  readonly flatWalk = true;
  readonly client: S3Client;
  readonly bucket: string;
  /** The key prefix for the root directory, without slashes ('' for the bucket's top). */
  readonly rootPrefix: string;
  readonly objectParams: ObjectParams;
  readonly chunkSize: number;
  readonly partConcurrency: number;
  readonly limiter: RequestRateLimiter | undefined;
  private readonly presignClient: S3Client;
  private readonly copyChunkSize: number;
  private readonly copyConcurrency: number;
  private readonly copyThreshold: number;
  private readonly redirect: boolean;
  private readonly redirectExpirySeconds: number;
  private readonly skipVerify: boolean;
  /** Keep-alive sockets of copyTo's own HTTP client. */
  private readonly rawConnections = new RawConnectionPool();
  private readonly copyClient: 'raw' | 'undici';
  /** undici's Agent when copyClient is 'undici' (loaded on first use: the registry does not carry undici otherwise). */
  private undici: import('undici').Agent | undefined;

  constructor(options: S3DriverOptions) {
    if (!options.bucket) throw new StorageDriverError(driverName, 'bucket', 'a bucket is required');
    if (!options.region) throw new StorageDriverError(driverName, 'region', 'a region is required');
    this.bucket = options.bucket;
    this.rootPrefix = (options.rootDirectory ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
    this.chunkSize = boundedOption(
      driverName,
      'chunksize',
      options.chunkSize,
      10 * MiB,
      minPartSize,
      maxPartSize,
    );
    this.copyChunkSize = boundedOption(
      driverName,
      'multipartcopychunksize',
      options.multipartCopyChunkSize,
      32 * MiB,
      minPartSize,
      maxPartSize,
    );
    this.copyConcurrency = boundedOption(
      driverName,
      'multipartcopymaxconcurrency',
      options.multipartCopyMaxConcurrency,
      100,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    this.copyThreshold = boundedOption(
      driverName,
      'multipartcopythresholdsize',
      options.multipartCopyThresholdSize,
      32 * MiB,
      0,
      maxPartSize,
    );
    this.partConcurrency = boundedOption(driverName, 'partConcurrency', options.partConcurrency, 3, 1, 64);
    this.redirect = options.redirect ?? true;
    this.redirectExpirySeconds = boundedOption(
      driverName,
      'redirect expiry',
      options.redirectExpirySeconds,
      20 * 60,
      1,
      604_800,
    );
    // As in Distribution, keyid only matters with encrypt: true.
    const kmsKeyId = options.encrypt ? options.keyId : undefined;
    const encryption: ServerSideEncryption | undefined = options.encrypt
      ? kmsKeyId
        ? 'aws:kms'
        : 'AES256'
      : undefined;
    const storageClass = storageClassParam(options.storageClass);
    const acl = aclParam(options.objectAcl);
    this.objectParams = {
      ContentType: 'application/octet-stream',
      ...(storageClass ? { StorageClass: storageClass } : {}),
      ...(encryption ? { ServerSideEncryption: encryption } : {}),
      ...(kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}),
      ...(acl ? { ACL: acl } : {}),
    };

    const secure = options.secure ?? true;
    this.skipVerify = options.skipVerify ?? false;
    this.copyClient =
      options.copyClient ?? (process.env['BERTH_S3_COPY_CLIENT'] === 'undici' ? 'undici' : 'raw');
    let endpoint: string | undefined;
    if (options.regionEndpoint) {
      endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.regionEndpoint)
        ? options.regionEndpoint
        : `${secure ? 'https' : 'http'}://${options.regionEndpoint}`;
    }
    const keepAlive = { keepAlive: true, maxSockets: 64 };
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
      tls: secure,
      maxAttempts: boundedOption(driverName, 'maxAttempts', options.maxAttempts, 5, 1, 20),
      retryMode: 'standard',
      // The registry verifies every digest itself; skip the SDK's extra CRC32 over every body.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      useDualstackEndpoint: options.useDualStack ?? false,
      useAccelerateEndpoint: options.accelerate ?? false,
      requestHandler: {
        httpAgent: new http.Agent(keepAlive),
        httpsAgent: new HttpsAgent({ ...keepAlive, rejectUnauthorized: !(options.skipVerify ?? false) }),
        connectionTimeout: 10_000,
      },
      ...(endpoint ? { endpoint } : {}),
      ...(options.userAgent ? { customUserAgent: options.userAgent } : {}),
    };
    if (options.accessKey && options.secretKey) {
      config.credentials = {
        accessKeyId: options.accessKey,
        secretAccessKey: options.secretKey,
        ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
      };
    }
    this.client = new S3Client(config);
    // Presigning sends nothing, so it has its own client without the rate limiter.
    this.presignClient = new S3Client(config);

    const rate = options.maxRequestsPerSecond ?? 0;
    this.limiter = rate > 0 ? new RequestRateLimiter(rate) : undefined;
    const limiter = this.limiter;
    if (limiter) {
      // Innermost, just before the request goes to the wire: every attempt (retries included) waits its turn,
      // and nothing after it (signing, checksums) can delay one request into the next one's second. Requests
      // are signed before they wait; SigV4 accepts a signature for 15 minutes, far longer than any queue here.
      const rateLimit =
        <A, R>(next: (args: A) => Promise<R>) =>
        async (args: A): Promise<R> => {
          await limiter.acquire();
          return next(args);
        };
      this.client.middlewareStack.add(rateLimit, {
        step: 'deserialize',
        priority: 'low',
        name: 'berthRateLimit',
        override: true,
      });
    }
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
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      if (res.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      throw driverError(path, 'GetObject', err);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(path),
          Body: content,
          ContentLength: content.byteLength,
          ...this.objectParams,
        }),
      );
    } catch (err) {
      throw driverError(path, 'PutObject', err);
    }
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    checkPath(driverName, path);
    const { offset, end, whole, empty } = checkReadRange(driverName, path, options);
    const size = async (): Promise<number> => (await this.headFile(path)).size;
    if (empty) return emptyRead(driverName, path, offset, size);
    const range = whole ? undefined : `bytes=${offset}-${end ?? ''}`;
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key(path),
          ...(range ? { Range: range } : {}),
        }),
      );
      const body = res.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([], { objectMode: false });
      return Readable.from(Buffer.from(await body.transformToByteArray()), { objectMode: false });
    } catch (err) {
      if (range !== undefined && (errorName(err) === 'InvalidRange' || httpStatus(err) === 416)) {
        // 416: the offset is at or past the end (or the object is empty).
        return emptyRead(driverName, path, offset, size);
      }
      throw driverError(path, 'GetObject', err);
    }
  }

  /**
   * Serves an object (or a range) into a socket: a presigned GET fetched by s3-copy.ts's lean HTTP client, which
   * costs a fraction of the CPU of the SDK's body stream. Whatever that client does not handle (an error status,
   * a failed connection, a redirect) continues through reader() from the first byte not yet sent, so errors,
   * retries and ranges behave exactly as there. Either way it resolves once the destination took every byte.
   */
  async copyTo(path: string, destination: Writable, options: ReadOptions = {}): Promise<void> {
    checkPath(driverName, path);
    const { offset, end, empty } = checkReadRange(driverName, path, options);
    let sent = 0;
    if (!empty) {
      let url: string;
      try {
        url = await getSignedUrl(
          this.presignClient,
          new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }),
          { expiresIn: copyUrlExpirySeconds },
        );
      } catch (err) {
        throw driverError(path, 'presign', err);
      }
      const limiter = this.limiter;
      const request = {
        url,
        offset,
        end,
        destination,
        rejectUnauthorized: !this.skipVerify,
        ...(limiter ? { acquire: () => limiter.acquire() } : {}),
      };
      let result: RawGetResult;
      if (this.copyClient === 'undici') {
        const { undiciAgent, undiciGet } = await import('./s3-copy-undici.ts');
        this.undici ??= undiciAgent(!this.skipVerify);
        result = await undiciGet(this.undici, request);
      } else result = await rawGet(this.rawConnections, request);
      if (result.status === 'complete') return;
      if (result.status === 'destination-closed') throw result.error;
      sent = result.sent;
    }
    const rest = await this.reader(path, { offset: offset + sent, ...(end !== undefined ? { end } : {}) });
    await writeAll(rest, destination);
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    let base: ExistingObject | undefined;
    if (append) {
      // Appending to nothing starts empty, as on the filesystem driver.
      try {
        const head = await this.client.send(
          new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }),
        );
        base = { size: head.ContentLength ?? 0, etag: head.ETag ?? '' };
      } catch (err) {
        if (!isMissingObject(err)) throw driverError(path, 'HeadObject', err);
      }
    }
    return new S3FileWriter(this, path, this.key(path), base, append);
  }

  stagedWriter(path: string): Promise<FileWriter> {
    checkPath(driverName, path);
    if (path === '/') return Promise.reject(new InvalidPathError(driverName, path));
    return Promise.resolve(new S3FileWriter(this, path, this.key(path), undefined, false, true));
  }

  async stat(path: string): Promise<FileInfo> {
    checkPath(driverName, path);
    if (path !== '/') {
      try {
        const head = await this.client.send(
          new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }),
        );
        return {
          path,
          size: head.ContentLength ?? 0,
          modTime: head.LastModified ?? new Date(0),
          isDir: false,
        };
      } catch (err) {
        if (!isMissingObject(err)) throw driverError(path, 'HeadObject', err);
      }
    }
    // Not an object: a directory when some key lies below it.
    const res = await this.listObjects(path, { Prefix: this.dirPrefix(path), MaxKeys: 1 });
    const first = res.Contents?.[0];
    if (first === undefined) throw new PathNotFoundError(driverName, path);
    return { path, size: 0, modTime: first.LastModified ?? new Date(0), isDir: true };
  }

  async list(path: string): Promise<string[]> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const res = await this.listObjects(path, {
        Prefix: prefix,
        Delimiter: '/',
        ...(token ? { ContinuationToken: token } : {}),
      });
      for (const object of res.Contents ?? []) {
        if (object.Key !== undefined) names.add(object.Key.slice(prefix.length));
      }
      for (const common of res.CommonPrefixes ?? []) {
        if (common.Prefix !== undefined) names.add(common.Prefix.slice(prefix.length, -1));
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
    return childPaths(driverName, path, names);
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    checkMovePaths(driverName, sourcePath, destPath);
    // Objects only, as on every object store: a directory is not something that can be moved.
    const source = await this.headFile(sourcePath);
    if (sourcePath === destPath) return;
    const sourceKey = this.key(sourcePath);
    const destKey = this.key(destPath);
    if (source.size <= this.copyThreshold) {
      try {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: destKey,
            CopySource: copySource(this.bucket, sourceKey),
            CopySourceIfMatch: source.etag,
            ...this.objectParams,
          }),
        );
      } catch (err) {
        throw driverError(sourcePath, 'CopyObject', err);
      }
    } else {
      await this.multipartCopy(sourcePath, sourceKey, destKey, source);
    }
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: sourceKey }));
    } catch (err) {
      if (!isMissingObject(err)) throw driverError(sourcePath, 'DeleteObject', err);
    }
  }

  /** Copies a large object in ranged parts, several at once (Distribution's multipartcopy* parameters). */
  private async multipartCopy(
    sourcePath: string,
    sourceKey: string,
    destKey: string,
    source: ExistingObject,
  ): Promise<void> {
    // Parts of multipartcopychunksize, grown if needed to stay within S3's part count.
    const partSize = Math.max(this.copyChunkSize, Math.ceil(source.size / maxParts));
    const count = Math.ceil(source.size / partSize);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: destKey, ...this.objectParams }),
      );
      const id = created.UploadId;
      if (id === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
      uploadId = id;
      const parts: CompletedPart[] = new Array<CompletedPart>(count);
      let nextIndex = 0;
      const worker = async (): Promise<void> => {
        for (let i = nextIndex++; i < count; i = nextIndex++) {
          const start = i * partSize;
          const end = Math.min(start + partSize, source.size) - 1;
          const res = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: destKey,
              UploadId: id,
              PartNumber: i + 1,
              CopySource: copySource(this.bucket, sourceKey),
              CopySourceRange: `bytes=${start}-${end}`,
              CopySourceIfMatch: source.etag,
            }),
          );
          parts[i] = { PartNumber: i + 1, ETag: res.CopyPartResult?.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.copyConcurrency, count) }, worker));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: destKey,
          UploadId: id,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      if (uploadId !== undefined) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: destKey, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw driverError(sourcePath, 'multipart copy', err);
    }
  }

  async delete(path: string): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    let found = false;
    let token: string | undefined;
    do {
      const res = await this.listObjects(path, {
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      });
      const keys = (res.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
      // An object with the directory's own name goes too (possible on S3, though never in a registry).
      if (!found && path !== '/' && keys.length > 0) keys.push(this.key(path));
      if (keys.length > 0) {
        found = true;
        await this.deleteKeys(path, keys);
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
    if (found) return;
    if (path === '/') throw new PathNotFoundError(driverName, path);
    // Not a directory: a single object, which must exist.
    await this.headFile(path);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
    } catch (err) {
      if (!isMissingObject(err)) throw driverError(path, 'DeleteObject', err);
    }
  }

  async deleteFiles(paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      checkPath(driverName, path);
      if (path === '/') throw new InvalidPathError(driverName, path);
    }
    await this.deleteKeys(
      paths[0] ?? '/',
      paths.map((path) => this.key(path)),
    );
  }

  private async deleteKeys(path: string, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      let res;
      try {
        res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
      } catch (err) {
        throw driverError(path, 'DeleteObjects', err);
      }
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0];
        throw new StorageDriverError(
          driverName,
          path,
          `DeleteObjects failed for ${failed.length} key(s) (first: ${first?.Key ?? '?'}: ${first?.Code ?? '?'} ${first?.Message ?? ''})`,
        );
      }
    }
  }

  async redirectURL(path: string, method: 'GET' | 'HEAD'): Promise<string | null> {
    checkPath(driverName, path);
    if (!this.redirect) return null;
    const input = { Bucket: this.bucket, Key: this.key(path) };
    const command = method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    try {
      return await getSignedUrl(this.presignClient, command, { expiresIn: this.redirectExpirySeconds });
    } catch (err) {
      throw driverError(path, 'presign', err);
    }
  }

  async walk(path: string, visit: Visitor, options: WalkOptions = {}): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const listPage: ListPage = async ({ next, startAfter }) => {
      const res = await this.listObjects(path, {
        Prefix: prefix,
        ...(next !== undefined ? { ContinuationToken: next } : {}),
        ...(startAfter !== undefined ? { StartAfter: prefix + startAfter } : {}),
      });
      return {
        objects: (res.Contents ?? []).flatMap((o) =>
          o.Key === undefined
            ? []
            : [
                {
                  key: o.Key.slice(prefix.length),
                  size: o.Size ?? 0,
                  modTime: o.LastModified ?? new Date(0),
                },
              ],
        ),
        ...(res.IsTruncated && res.NextContinuationToken ? { next: res.NextContinuationToken } : {}),
      };
    };
    if (!(await walkFlatListing(path, listPage, visit, options)))
      throw new PathNotFoundError(driverName, path);
  }

  /** Releases the client's sockets. */
  destroy(): void {
    this.client.destroy();
    this.presignClient.destroy();
    this.rawConnections.destroy();
    void this.undici?.destroy();
  }

  private async listObjects(
    path: string,
    input: {
      Prefix: string;
      Delimiter?: string;
      MaxKeys?: number;
      ContinuationToken?: string;
      StartAfter?: string;
    },
  ): Promise<ListObjectsV2CommandOutput> {
    try {
      return await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, ...input }));
    } catch (err) {
      throw driverError(path, 'ListObjectsV2', err);
    }
  }

  /** Size and ETag of an object; PathNotFoundError when there is none (a directory is none). */
  private async headFile(path: string): Promise<ExistingObject> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(path) }),
      );
      return { size: head.ContentLength ?? 0, etag: head.ETag ?? '' };
    } catch (err) {
      throw driverError(path, 'HeadObject', err);
    }
  }
}
