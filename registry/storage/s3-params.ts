// Values of Distribution's `storage.s3` parameters that the config schema, the S3 driver and the operator's CRD
// all check. Kept apart from s3.ts so neither the config schema nor the operator loads the AWS SDK.

/** Storage classes Distribution accepts (instant retrieval only); NONE sends no storage class at all. */
export const S3_STORAGE_CLASSES = [
  'NONE',
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'OUTPOSTS',
  'GLACIER_IR',
  'EXPRESS_ONEZONE',
] as const;
export type S3StorageClassName = (typeof S3_STORAGE_CLASSES)[number];

/** Distribution matches storage classes case-insensitively. */
export function isS3StorageClass(value: string): boolean {
  return (S3_STORAGE_CLASSES as readonly string[]).includes(value.toUpperCase());
}

const MiB = 1024 * 1024;
/** `chunksize` bounds: S3's smallest and largest multipart part. */
export const S3_MIN_CHUNK_SIZE = 5 * MiB;
export const S3_MAX_CHUNK_SIZE = 5 * 1024 * MiB;
