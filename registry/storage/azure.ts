// The `azure` driver (Distribution's `storage.azure`): block blobs in one container at name = rootdirectory +
// path without the leading slash, exactly as Distribution's Azure driver names them, so a container written by
// either registry is served by the other. Directories are implied by the names below them.
//
// The service URL is `https://<accountname>.blob.<realm>` (realm default `core.windows.net`), or `serviceurl`
// as given: the account's blob endpoint including any path, e.g. Azurite's
// `http://127.0.0.1:10000/devstoreaccount1`. Credentials: the account key (Shared Key), or with
// `credentials.type` client_secret / default_credentials an Entra ID token (@azure/identity).
//
// Distribution 2.x named blobs by the path itself, leading "/" included; GitLab's `trimlegacyrootprefix: false`
// (`legacyrootprefix: true`) keeps that leading slash so such a container is served as it is.
//
// Requests retry with exponential backoff (`max_retries`, `retry_delay`). Blob reads may be redirected to
// read-only SAS URLs: signed with the account key, or with a user delegation key under token credentials.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type BlobItem,
  type ContainerClient,
  type StoragePipelineOptions,
  type UserDelegationKey,
} from '@azure/storage-blob';
import type { TokenCredential } from '@azure/core-auth';
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
  driverError,
  driverName,
  errorCode,
  httpStatus,
  isConditionFailed,
  isMissingBlob,
  isWrongBlobType,
  maxBlockSize,
  type AzureTarget,
} from './azure-common.ts';
import { AzureFileWriter, blockIdLength, contentType, type ExistingBlob } from './azure-writer.ts';
import { walkFlatListing, type ListPage } from './s3-walk.ts';

type Visitor = Parameters<StorageDriver['walk']>[1];

const MiB = 1024 * 1024;

export interface AzureDriverOptions {
  accountName: string;
  /** Shared Key authorization (and SAS redirects signed with it). */
  accountKey?: string;
  /** An Entra ID credential, used when there is no account key. */
  tokenCredential?: TokenCredential;
  container: string;
  /** Default core.windows.net. */
  realm?: string;
  /** The blob service URL; default https://<accountName>.blob.<realm>. */
  serviceURL?: string;
  /** Prefix of every blob name; leading and trailing slashes are ignored. */
  rootDirectory?: string;
  /** Every blob name begins with "/" (containers Distribution 2.x wrote); default false. */
  legacyRootPrefix?: boolean;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First retry delay, doubled each retry (default 100 ms). */
  retryDelayMs?: number;
  /** Polls of a pending server-side copy before move gives up; -1 for no limit (default). */
  copyStatusPollMaxRetry?: number;
  /** Delay between copy status polls (default 100 ms). */
  copyStatusPollDelayMs?: number;
  /** Block size of writers (default 4 MiB). */
  chunkSize?: number;
  /** Blocks one writer stages at once (default 4); memory per writer is about (this + 1) × chunkSize. */
  blockConcurrency?: number;
  /** SAS redirect URLs for blob reads; default true. */
  redirect?: boolean;
  /** Lifetime of a SAS URL; default 20 minutes, as Distribution's. */
  redirectExpirySeconds?: number;
  /** Blobs per listing page (default 5000, the service's maximum). */
  listPageSize?: number;
}

/** Only names a path can address (no odd characters from other tools). */

export class AzureDriver implements StorageDriver, AzureTarget {
  readonly name = driverName;
  readonly flatWalk = true;
  readonly service: BlobServiceClient;
  readonly container: ContainerClient;
  readonly chunkSize: number;
  readonly blockConcurrency: number;
  /** The name prefix for the root directory, without slashes ('' for the container's top). */
  readonly rootPrefix: string;
  /** Blob names begin with "/" (before rootPrefix). */
  readonly legacyRootPrefix: boolean;
  private readonly accountName: string;
  private readonly sharedKey: StorageSharedKeyCredential | undefined;
  private readonly tokenCredential: TokenCredential | undefined;
  private readonly redirect: boolean;
  private readonly redirectExpirySeconds: number;
  private readonly copyPollMaxRetry: number;
  private readonly copyPollDelayMs: number;
  private readonly listPageSize: number;
  private delegationKey: { key: UserDelegationKey; expires: number } | undefined;

  constructor(options: AzureDriverOptions) {
    if (!options.accountName)
      throw new StorageDriverError(driverName, 'accountname', 'an account name is required');
    if (!options.container) throw new StorageDriverError(driverName, 'container', 'a container is required');
    this.accountName = options.accountName;
    this.rootPrefix = (options.rootDirectory ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
    this.legacyRootPrefix = options.legacyRootPrefix ?? false;
    this.chunkSize = boundedOption(driverName, 'chunksize', options.chunkSize, 4 * MiB, 1, maxBlockSize);
    this.blockConcurrency = boundedOption(driverName, 'blockConcurrency', options.blockConcurrency, 4, 1, 64);
    this.redirect = options.redirect ?? true;
    this.redirectExpirySeconds = boundedOption(
      driverName,
      'redirect expiry',
      options.redirectExpirySeconds,
      20 * 60,
      1,
      604_800,
    );
    this.copyPollMaxRetry = boundedOption(
      driverName,
      'copy_status_poll_max_retry',
      options.copyStatusPollMaxRetry,
      -1,
      -1,
      Number.MAX_SAFE_INTEGER,
    );
    this.copyPollDelayMs = boundedOption(
      driverName,
      'copy_status_poll_delay',
      options.copyStatusPollDelayMs,
      100,
      0,
      3_600_000,
    );
    this.listPageSize = boundedOption(driverName, 'listPageSize', options.listPageSize, 5000, 1, 5000);
    const maxRetries = boundedOption(driverName, 'max_retries', options.maxRetries, 5, 0, 100);
    const retryDelayMs = boundedOption(driverName, 'retry_delay', options.retryDelayMs, 100, 1, 3_600_000);

    const url = (
      options.serviceURL ?? `https://${options.accountName}.blob.${options.realm ?? 'core.windows.net'}`
    ).replace(/\/+$/, '');
    if (!/^https?:\/\//i.test(url)) {
      throw new StorageDriverError(driverName, 'serviceurl', `must be an http(s) URL, got ${url}`);
    }
    const pipeline: StoragePipelineOptions = {
      retryOptions: {
        maxTries: maxRetries + 1,
        retryDelayInMs: retryDelayMs,
        maxRetryDelayInMs: Math.max(retryDelayMs, 30_000),
      },
    };
    if (options.accountKey) {
      this.sharedKey = new StorageSharedKeyCredential(options.accountName, options.accountKey);
      this.service = new BlobServiceClient(url, this.sharedKey, pipeline);
    } else if (options.tokenCredential) {
      this.tokenCredential = options.tokenCredential;
      this.service = new BlobServiceClient(url, options.tokenCredential, pipeline);
    } else {
      throw new StorageDriverError(
        driverName,
        'accountkey',
        'an account key or credentials (client_secret, default_credentials) are required',
      );
    }
    this.container = this.service.getContainerClient(options.container);
  }

  /** Creates the container unless it exists (as Distribution does at start-up). */
  async ensureContainer(): Promise<void> {
    try {
      await this.container.createIfNotExists();
    } catch (err) {
      // A credential limited to one container may not create (or even look at) containers: use it as it is.
      if (httpStatus(err) === 403) return;
      throw driverError('/', 'create container', err);
    }
  }

  /** The blob name of a driver path. */
  blobName(path: string): string {
    let name: string;
    if (path === '/') name = this.rootPrefix;
    else name = this.rootPrefix === '' ? path.slice(1) : `${this.rootPrefix}${path}`;
    return this.legacyRootPrefix && name !== '' ? `/${name}` : name;
  }

  /** The name prefix of everything below a driver path. */
  private dirPrefix(path: string): string {
    const name = this.blobName(path);
    if (name === '') return this.legacyRootPrefix ? '/' : '';
    return `${name}/`;
  }

  private blockBlob(path: string): ReturnType<ContainerClient['getBlockBlobClient']> {
    return this.container.getBlockBlobClient(this.blobName(path));
  }

  async getContent(path: string): Promise<Buffer> {
    checkPath(driverName, path);
    if (path === '/') throw new PathNotFoundError(driverName, path);
    try {
      const res = await this.blockBlob(path).download();
      return await collect(res.readableStreamBody);
    } catch (err) {
      throw driverError(path, 'get', err);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    const blob = this.blockBlob(path);
    const put = (): Promise<unknown> =>
      blob.upload(content, content.byteLength, { blobHTTPHeaders: { blobContentType: contentType } });
    try {
      try {
        await put();
      } catch (err) {
        // Distribution 2.x stored small files as append blobs, which Put Blob cannot replace in place.
        if (!isWrongBlobType(err)) throw err;
        await blob.deleteIfExists();
        await put();
      }
    } catch (err) {
      throw driverError(path, 'put', err);
    }
  }

  async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
    checkPath(driverName, path);
    if (path === '/') throw new PathNotFoundError(driverName, path);
    const { offset, end, whole, empty } = checkReadRange(driverName, path, options);
    const size = async (): Promise<number> => (await this.headFile(path)).size;
    if (empty) return emptyRead(driverName, path, offset, size);
    const count = end === undefined ? undefined : end - offset + 1;
    try {
      const res = await this.blockBlob(path).download(whole ? undefined : offset, count);
      const body = res.readableStreamBody;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([], { objectMode: false });
      return Readable.from(await collect(body), { objectMode: false });
    } catch (err) {
      if (!whole && (errorCode(err) === 'InvalidRange' || httpStatus(err) === 416)) {
        // 416: the offset is at or past the end (or the blob is empty).
        return emptyRead(driverName, path, offset, size);
      }
      throw driverError(path, 'read', err);
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(driverName, path);
    if (path === '/') throw new InvalidPathError(driverName, path);
    const blob = this.blockBlob(path);
    let base: ExistingBlob | undefined;
    if (append) {
      // Appending to nothing starts empty, as on the filesystem driver.
      try {
        const props = await blob.getProperties();
        const size = props.contentLength ?? 0;
        const etag = props.etag ?? '';
        if (props.blobType !== undefined && props.blobType !== 'BlockBlob') {
          throw new StorageDriverError(
            driverName,
            path,
            `cannot append to an ${props.blobType} (written by another registry): start the upload again`,
          );
        }
        let blockIds: string[] | undefined;
        if (size > 0) {
          const list = await blob.getBlockList('committed');
          if (list.etag !== undefined && list.etag !== etag) {
            throw new StorageDriverError(driverName, path, 'the blob changed while a writer was opened');
          }
          const ids = (list.committedBlocks ?? []).map((b) => b.name);
          const listed = (list.committedBlocks ?? []).reduce((sum, b) => sum + b.size, 0);
          // Usable when the blocks make up the whole content and new ids may join them (one length per blob).
          if (listed === size && ids.every((id) => id.length === blockIdLength)) blockIds = ids;
        } else {
          blockIds = [];
        }
        base = { size, etag, blockIds };
      } catch (err) {
        if (isConditionFailed(err)) {
          throw new StorageDriverError(driverName, path, 'the blob changed while a writer was opened', {
            cause: err,
          });
        }
        if (!isMissingBlob(err)) throw driverError(path, 'open writer', err);
      }
    }
    return new AzureFileWriter(this, path, blob, base, append);
  }

  async stat(path: string): Promise<FileInfo> {
    checkPath(driverName, path);
    if (path !== '/') {
      try {
        const props = await this.blockBlob(path).getProperties();
        return {
          path,
          size: props.contentLength ?? 0,
          modTime: props.lastModified ?? new Date(0),
          isDir: false,
        };
      } catch (err) {
        if (!isMissingBlob(err)) throw driverError(path, 'stat', err);
      }
    }
    // Not a blob: a directory when some blob lies below it.
    const page = await this.listFlat(path, this.dirPrefix(path), { maxPageSize: 1 });
    const first = page.blobs[0];
    if (first === undefined) throw new PathNotFoundError(driverName, path);
    return { path, size: 0, modTime: first.properties.lastModified, isDir: true };
  }

  async list(path: string): Promise<string[]> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const names = new Set<string>();
    try {
      const pages = this.container
        .listBlobsByHierarchy('/', { prefix })
        .byPage({ maxPageSize: this.listPageSize });
      for await (const page of pages) {
        for (const blob of page.segment.blobItems) names.add(blob.name.slice(prefix.length));
        for (const dir of page.segment.blobPrefixes ?? []) names.add(dir.name.slice(prefix.length, -1));
      }
    } catch (err) {
      throw driverError(path, 'list', err);
    }
    return childPaths(driverName, path, names);
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    checkMovePaths(driverName, sourcePath, destPath);
    // Blobs only, as on every object store: a directory is not something that can be moved.
    const source = await this.headFile(sourcePath);
    if (sourcePath === destPath) return;
    const sourceBlob = this.blockBlob(sourcePath);
    const dest = this.blockBlob(destPath);
    try {
      try {
        await this.copy(sourcePath, sourceBlob.url, dest, source.etag);
      } catch (err) {
        // A copy replaces only a blob of the source's type.
        if (!isWrongBlobType(err)) throw err;
        await dest.deleteIfExists();
        await this.copy(sourcePath, sourceBlob.url, dest, source.etag);
      }
    } catch (err) {
      throw driverError(sourcePath, 'copy', err);
    }
    try {
      await sourceBlob.delete({ deleteSnapshots: 'include' });
    } catch (err) {
      if (!isMissingBlob(err)) throw driverError(sourcePath, 'delete', err);
    }
  }

  /** A server-side copy (Copy Blob), polled until it is done: same-account copies usually are at once. */
  private async copy(
    path: string,
    sourceURL: string,
    dest: ReturnType<ContainerClient['getBlockBlobClient']>,
    etag: string,
  ): Promise<void> {
    const poller = await dest.beginCopyFromURL(sourceURL, {
      sourceConditions: { ifMatch: etag },
      intervalInMs: this.copyPollDelayMs,
    });
    for (let polls = 0; !poller.isDone(); polls++) {
      if (this.copyPollMaxRetry >= 0 && polls >= this.copyPollMaxRetry) {
        await poller.cancelOperation().catch(() => undefined);
        throw new StorageDriverError(
          driverName,
          path,
          `the copy was still pending after ${polls} status polls (copy_status_poll_max_retry)`,
        );
      }
      await sleep(this.copyPollDelayMs);
      await poller.poll();
    }
    const result = poller.getResult();
    if (result?.copyStatus !== undefined && result.copyStatus !== 'success') {
      throw new StorageDriverError(driverName, path, `copy ended ${result.copyStatus}`);
    }
  }

  async delete(path: string): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    let found = false;
    let token: string | undefined;
    do {
      const page = await this.listFlat(path, prefix, token === undefined ? {} : { continuationToken: token });
      const names = page.blobs.map((b) => b.name);
      // A blob with the directory's own name goes too (possible on Azure, though never in a registry).
      if (!found && path !== '/' && names.length > 0) names.push(this.blobName(path));
      if (names.length > 0) {
        found = true;
        await this.deleteBlobs(path, names);
      }
      token = page.next;
    } while (token !== undefined);
    if (found) return;
    if (path === '/') throw new PathNotFoundError(driverName, path);
    // Not a directory: a single blob, which must exist.
    try {
      await this.blockBlob(path).delete({ deleteSnapshots: 'include' });
    } catch (err) {
      throw driverError(path, 'delete', err);
    }
  }

  private async deleteBlobs(path: string, names: string[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < names.length; i = next++) {
        const name = names[i];
        if (name === undefined) continue;
        try {
          await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
        } catch (err) {
          throw driverError(path, `delete ${name}`, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, names.length) }, worker));
  }

  async redirectURL(path: string, method: 'GET' | 'HEAD'): Promise<string | null> {
    checkPath(driverName, path);
    void method; // a read SAS serves GET and HEAD alike
    if (!this.redirect) return null;
    const blob = this.blockBlob(path);
    const expiresOn = new Date(Date.now() + this.redirectExpirySeconds * 1000);
    const values = {
      containerName: this.container.containerName,
      blobName: this.blobName(path),
      permissions: BlobSASPermissions.parse('r'),
      expiresOn,
      // An https service gets https-only URLs; Azurite and other plain-http endpoints need http.
      protocol: blob.url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
    };
    try {
      if (this.sharedKey) {
        return `${blob.url}?${generateBlobSASQueryParameters(values, this.sharedKey).toString()}`;
      }
      if (this.tokenCredential) {
        const key = await this.userDelegationKey();
        const sas = generateBlobSASQueryParameters(
          { ...values, expiresOn: new Date(Math.min(expiresOn.getTime(), key.expires)) },
          key.key,
          this.accountName,
        );
        return `${blob.url}?${sas.toString()}`;
      }
    } catch (err) {
      throw driverError(path, 'sign redirect', err);
    }
    return null;
  }

  /** A user delegation key (token credentials), reused while it has more than a redirect's lifetime left. */
  private async userDelegationKey(): Promise<{ key: UserDelegationKey; expires: number }> {
    const now = Date.now();
    const cached = this.delegationKey;
    if (cached && cached.expires - now > this.redirectExpirySeconds * 1000) return cached;
    const expires = now + 24 * 3600 * 1000;
    const res = await this.service.getUserDelegationKey(new Date(now - 5 * 60 * 1000), new Date(expires));
    this.delegationKey = { key: res, expires };
    return this.delegationKey;
  }

  async walk(path: string, visit: Visitor, options: WalkOptions = {}): Promise<void> {
    checkPath(driverName, path);
    const prefix = this.dirPrefix(path);
    const listPage: ListPage = async ({ next, startAfter }) => {
      const start = startAfter === undefined ? undefined : prefix + startAfter;
      const page = await this.listFlat(path, prefix, {
        ...(next !== undefined ? { continuationToken: next } : {}),
        // startFrom is inclusive; the walk asks for what comes after.
        ...(start !== undefined ? { startFrom: start } : {}),
      });
      return {
        objects: page.blobs
          .filter((b) => b.name !== start)
          .map((b) => ({
            key: b.name.slice(prefix.length),
            size: b.properties.contentLength ?? 0,
            modTime: b.properties.lastModified,
          })),
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    };
    if (!(await walkFlatListing(path, listPage, visit, options)))
      throw new PathNotFoundError(driverName, path);
  }

  /** One page of a flat listing below prefix. */
  private async listFlat(
    path: string,
    prefix: string,
    from: { continuationToken?: string; startFrom?: string; maxPageSize?: number },
  ): Promise<{ blobs: BlobItem[]; next?: string }> {
    try {
      const pages = this.container
        .listBlobsFlat({ prefix, ...(from.startFrom !== undefined ? { startFrom: from.startFrom } : {}) })
        .byPage({
          maxPageSize: from.maxPageSize ?? this.listPageSize,
          ...(from.continuationToken !== undefined ? { continuationToken: from.continuationToken } : {}),
        });
      const first = await pages.next();
      if (first.done === true) return { blobs: [] };
      const page = first.value;
      const next = page.continuationToken;
      return { blobs: page.segment.blobItems, ...(next ? { next } : {}) };
    } catch (err) {
      throw driverError(path, 'list', err);
    }
  }

  /** Size and ETag of a blob; PathNotFoundError when there is none (a directory is none). */
  private async headFile(path: string): Promise<{ size: number; etag: string }> {
    if (path === '/') throw new PathNotFoundError(driverName, path);
    try {
      const props = await this.blockBlob(path).getProperties();
      return { size: props.contentLength ?? 0, etag: props.etag ?? '' };
    } catch (err) {
      throw driverError(path, 'stat', err);
    }
  }
}

async function collect(body: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
