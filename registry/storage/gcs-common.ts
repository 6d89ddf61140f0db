// What the GCS driver and its writer share: the driver name, error mapping and the writer's view of the driver.
import type { Bucket } from '@google-cloud/storage';
import { PathNotFoundError, StorageDriverError } from './driver.ts';

export const driverName = 'gcs';

/** Content type of every object the driver creates (as Distribution's gcs driver sets). */
export const contentType = 'application/octet-stream';

/** What a writer needs from its driver. */
export interface GcsTarget {
  readonly bucket: Bucket;
  /** Resumable-upload chunk size (`chunksize`), a multiple of 256 KiB. */
  readonly chunkSize: number;
  /** Headers that authorize a request to `url` (none for an emulator, as the library sends none there). */
  requestHeaders(url: string): Promise<Record<string, string>>;
}

interface ErrorShape {
  code?: unknown;
  status?: unknown;
  response?: { status?: unknown };
}

/** The HTTP status of an error from @google-cloud/storage (ApiError.code) or gaxios (response.status). */
export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, status, response } = err as ErrorShape;
  if (typeof code === 'number') return code;
  if (typeof status === 'number') return status;
  if (typeof response?.status === 'number') return response.status;
  if (typeof code === 'string' && /^\d{3}$/.test(code)) return Number(code);
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

/** A generation precondition failed: the object changed since it was looked at. */
export function isPreconditionFailed(err: unknown): boolean {
  return httpStatus(err) === 412;
}

/** Maps a missing object to PathNotFoundError and anything else to a StorageDriverError naming the operation. */
export function driverError(path: string, operation: string, err: unknown): StorageDriverError {
  if (err instanceof StorageDriverError) return err;
  if (isNotFound(err)) return new PathNotFoundError(driverName, path, { cause: err });
  const status = httpStatus(err);
  const message = err instanceof Error ? err.message : String(err);
  const detail =
    status !== undefined && !message.includes(String(status)) ? `${status}: ${message}` : message;
  return new StorageDriverError(driverName, path, `${operation} failed (${detail})`, { cause: err });
}

/** The numeric generation of an object's metadata (the JSON API sends it as a string). */
export function generationOf(metadata: { generation?: string | number | undefined }): number | undefined {
  const g = metadata.generation;
  if (g === undefined) return undefined;
  const n = typeof g === 'number' ? g : Number(g);
  return Number.isFinite(n) ? n : undefined;
}
