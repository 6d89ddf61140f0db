// What the S3 driver and its writer share: error mapping and the parameters every object-creating request carries.
import type { S3Client, ServerSideEncryption, StorageClass, ObjectCannedACL } from '@aws-sdk/client-s3';
import { PathNotFoundError, StorageDriverError } from './driver.ts';

export const driverName = 's3';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last part of a multipart upload). */
export const minPartSize = 5 * MiB;
/** S3's largest part, and the largest single CopyObject. */
export const maxPartSize = 5 * 1024 * MiB;
/** S3's limit on parts in one multipart upload. */
export const maxParts = 10_000;

/** Sent on PutObject, CreateMultipartUpload and CopyObject, as Distribution's driver does. */
export interface ObjectParams {
  ContentType: string;
  StorageClass?: StorageClass;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  ACL?: ObjectCannedACL;
}

/** What a writer needs from its driver. */
export interface S3Target {
  readonly client: S3Client;
  readonly bucket: string;
  readonly objectParams: ObjectParams;
  /** Multipart part size (`chunksize`). */
  readonly chunkSize: number;
  /** Parts a writer uploads at once. */
  readonly partConcurrency: number;
}

interface ErrorShape {
  name?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function shape(err: unknown): ErrorShape {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
}

export function errorName(err: unknown): string | undefined {
  const { name, Code } = shape(err);
  if (typeof Code === 'string') return Code;
  return typeof name === 'string' ? name : undefined;
}

export function httpStatus(err: unknown): number | undefined {
  const status = shape(err).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A missing object (GetObject's NoSuchKey, HeadObject's bare 404), but not a missing bucket or upload. */
export function isMissingObject(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NoSuchBucket' || name === 'NoSuchUpload') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(err) === 404;
}

/** The object changed since it was looked at (an If-Match or x-amz-copy-source-if-match failed). */
export function isPreconditionFailed(err: unknown): boolean {
  return errorName(err) === 'PreconditionFailed' || httpStatus(err) === 412;
}

/** Maps a missing object to PathNotFoundError and anything else to a StorageDriverError naming the operation. */
export function driverError(path: string, operation: string, err: unknown): StorageDriverError {
  if (err instanceof StorageDriverError) return err;
  if (isMissingObject(err)) return new PathNotFoundError(driverName, path, { cause: err });
  const name = errorName(err);
  const message = err instanceof Error ? err.message : String(err);
  const detail = name !== undefined && !message.includes(name) ? `${name}: ${message}` : message;
  return new StorageDriverError(driverName, path, `${operation} failed (${detail})`, { cause: err });
}

/** The `x-amz-copy-source` value: bucket and URL-encoded key. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
