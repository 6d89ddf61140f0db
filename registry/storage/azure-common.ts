// What the Azure driver and its writer share: error mapping and the handles a writer needs.
import type { ContainerClient } from '@azure/storage-blob';
import { PathNotFoundError, StorageDriverError } from './driver.ts';

export const driverName = 'azure';

/** Azure's limit on committed blocks in one block blob. */
export const maxBlocks = 50_000;
/** Azure's largest block (service versions since 2019-12-12). */
export const maxBlockSize = 4000 * 1024 * 1024;

/** What a writer needs from its driver. */
export interface AzureTarget {
  readonly container: ContainerClient;
  /** The size of the blocks a writer stages. */
  readonly chunkSize: number;
  /** Blocks one writer stages at once. */
  readonly blockConcurrency: number;
}

interface ErrorShape {
  code?: unknown;
  statusCode?: unknown;
  details?: { errorCode?: unknown };
}

function shape(err: unknown): ErrorShape {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
}

/** The service's error code (`BlobNotFound`, `ConditionNotMet`, ...), when there is one. */
export function errorCode(err: unknown): string | undefined {
  const { code, details } = shape(err);
  if (typeof details?.errorCode === 'string') return details.errorCode;
  return typeof code === 'string' ? code : undefined;
}

export function httpStatus(err: unknown): number | undefined {
  const status = shape(err).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A missing blob, but not a missing container (that is a configuration error, not a missing path). */
export function isMissingBlob(err: unknown): boolean {
  const code = errorCode(err);
  if (code === 'ContainerNotFound') return false;
  return code === 'BlobNotFound' || httpStatus(err) === 404;
}

/** The blob changed since it was looked at (an If-Match or If-None-Match failed). */
export function isConditionFailed(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code === 'ConditionNotMet' ||
    code === 'SourceConditionNotMet' ||
    code === 'TargetConditionNotMet' ||
    code === 'BlobAlreadyExists' ||
    httpStatus(err) === 412
  );
}

/** The operation needs a block blob and found an append or page blob (e.g. written by Distribution 2.x). */
export function isWrongBlobType(err: unknown): boolean {
  return errorCode(err) === 'InvalidBlobType';
}

/** Maps a missing blob to PathNotFoundError and anything else to a StorageDriverError naming the operation. */
export function driverError(path: string, operation: string, err: unknown): StorageDriverError {
  if (err instanceof StorageDriverError) return err;
  if (isMissingBlob(err)) return new PathNotFoundError(driverName, path, { cause: err });
  const code = errorCode(err);
  // The service's messages carry a request id and a time on further lines; the first line says it.
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  const detail = code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
  return new StorageDriverError(driverName, path, `${operation} failed (${detail})`, { cause: err });
}
