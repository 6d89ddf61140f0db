// The S3 side of `node bench/s3.ts`: one MinIO for the whole run, a bucket per registry (and per GC copy),
// the `storage` config both registries get for a bucket, and both registries started on it through the test
// harness's launchers with the bench's shared config overlay.
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { forEachConcurrent } from '../registry/gc/limit.ts';
import { startBerth } from '../test/harness/berth.ts';
import { startDistribution } from '../test/harness/distribution.ts';
import type { Minio } from '../test/harness/minio.ts';
import type { ConfigObject, RegistryKind } from '../test/harness/registry.ts';
import { BenchClient } from './http-client.ts';
import { berthPodHeapFlag, sharedConfig, type BenchRegistry } from './registries.ts';

/** Both registries keep their tree under this prefix of their bucket. */
export const rootDirectory = '/registry';

/**
 * Debian's docker-registry (Go SDK) fails to start with AWS_CA_BUNDLE set; MinIO is plain HTTP here, so
 * it is removed for Distribution (and, for the same environment, for Berth too).
 */
export const s3Env: NodeJS.ProcessEnv = { AWS_CA_BUNDLE: undefined };

/** An environment for a child process without the variables s3Env removes. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!(k in s3Env)) env[k] = v;
  for (const [k, v] of Object.entries(s3Env)) if (v !== undefined) env[k] = v;
  return env;
}

/** `storage` for a bucket on the run's MinIO; the harness's filesystem default is dropped. */
export function s3Storage(minio: Minio, bucket: string, redirectDisabled: boolean): ConfigObject {
  return {
    filesystem: undefined,
    s3: {
      region: minio.region,
      regionendpoint: minio.endpoint,
      forcepathstyle: true,
      secure: false,
      v4auth: true,
      bucket,
      accesskey: minio.accessKey,
      secretkey: minio.secretKey,
      rootdirectory: rootDirectory,
    },
    redirect: { disable: redirectDisabled },
  };
}

/** The shared overlay of bench/registries.ts with the bucket's storage merged into it. */
export function s3Config(minio: Minio, bucket: string, redirectDisabled: boolean): ConfigObject {
  const shared = sharedConfig['storage'];
  const sharedStorage = typeof shared === 'object' && shared !== null ? (shared as ConfigObject) : {};
  return {
    ...sharedConfig,
    storage: { ...sharedStorage, ...s3Storage(minio, bucket, redirectDisabled) },
  };
}

export async function startS3Registry<K extends RegistryKind>(
  kind: K,
  minio: Minio,
  bucket: string,
  redirectDisabled: boolean,
  /** Berth only: more environment (bench/s3-copy.ts picks copyTo's HTTP client with it). */
  berthEnv: NodeJS.ProcessEnv = {},
): Promise<BenchRegistry<K>> {
  const config = s3Config(minio, bucket, redirectDisabled);
  const running =
    kind === 'berth'
      ? await startBerth({ config, env: { ...s3Env, NODE_OPTIONS: berthPodHeapFlag, ...berthEnv } })
      : await startDistribution({ config, env: s3Env, version: kind === 'distribution-v3' ? 3 : 2 });
  const client = new BenchClient(running.url);
  const pid = running.process.pid;
  if (pid === undefined) {
    client.close();
    await running.stop();
    throw new Error(`${kind}: no pid`);
  }
  return {
    kind,
    running,
    client,
    pid,
    async stop() {
      client.close();
      await running.stop();
    },
  };
}

export class Buckets {
  readonly client: S3Client;
  private readonly minio: Minio;
  private readonly created = new Set<string>();

  constructor(minio: Minio) {
    this.minio = minio;
    this.client = new S3Client({
      region: minio.region,
      endpoint: minio.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
      // The corpus writer and the copier keep many requests in flight.
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 64 } },
    });
  }

  async create(name: string): Promise<string> {
    await this.minio.createBucket(name);
    this.created.add(name);
    return name;
  }

  put(bucket: string, key: string, body: Buffer | string): Promise<unknown> {
    return this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  async *keys(bucket: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) yield o.Key;
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async count(bucket: string): Promise<number> {
    let n = 0;
    for await (const key of this.keys(bucket)) if (key !== '') n++;
    return n;
  }

  /** A server-side copy of every object of `from` into a new bucket `to`. */
  async copy(from: string, to: string, concurrency = 32): Promise<number> {
    await this.create(to);
    let n = 0;
    await forEachConcurrent(this.keys(from), concurrency, async (key) => {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: to,
          Key: key,
          CopySource: `${from}/${key.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      n++;
    });
    return n;
  }

  /** Empties (objects and open multipart uploads) and deletes the bucket. */
  async remove(bucket: string): Promise<void> {
    const uploads = await this.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }),
      );
    }
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      batch = [];
    };
    for await (const key of this.keys(bucket)) {
      batch.push(key);
      if (batch.length === 1000) await flush();
    }
    await flush();
    await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
    this.created.delete(bucket);
  }

  /** Removes every bucket this object created and has not removed yet. */
  async removeAll(): Promise<void> {
    for (const bucket of [...this.created]) await this.remove(bucket).catch(() => undefined);
    this.client.destroy();
  }
}
