// Manifest parsing: which media types Berth accepts and what each manifest references. Used by the manifest
// PUT handler (validation, MANIFEST_BLOB_UNKNOWN checks, referrers index) and by garbage collection (marking).
import { z } from 'zod';
import { RegistryError } from './errors.ts';
import { isDigest } from './digest.ts';

export const mediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export const manifestMediaTypes: readonly string[] = [
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
  mediaTypes.dockerManifest,
  mediaTypes.dockerManifestList,
];

/** Distribution v3 refuses manifests over 4 MiB. */
export const maxManifestSize = 4 * 1024 * 1024;

const mediaTypeString = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/);

export const descriptorSchema = z.object({
  mediaType: mediaTypeString,
  digest: z.string().refine(isDigest, 'invalid digest'),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().optional(),
  platform: z.object({ architecture: z.string(), os: z.string() }).loose().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const imageManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: descriptorSchema,
    layers: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

const indexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    manifests: z.array(descriptorSchema),
    subject: descriptorSchema.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the manifest needs in the same repository (config and layers). Foreign layers (with urls) excluded. */
  blobs: Descriptor[];
  /** Manifests an index or list references. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** The artifactType reported by the referrers API: artifactType, else the config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const genericTypes = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

function invalid(reason: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${reason}`, { detail });
}

/**
 * Decides a manifest's media type from the request's Content-Type and the body's own `mediaType`, the way
 * Distribution v3 does: an explicit body mediaType must agree with a specific Content-Type; a generic or absent
 * Content-Type falls back to the body (OCI index when it has `manifests`, else OCI image manifest).
 */
function resolveMediaType(contentType: string | undefined, body: Record<string, unknown>): string {
  const header = ((contentType ?? '').split(';')[0] ?? '').trim().toLowerCase();
  const inBody = typeof body['mediaType'] === 'string' ? body['mediaType'] : undefined;
  if (
    body['schemaVersion'] === 1 ||
    header === mediaTypes.dockerSchema1 ||
    header === mediaTypes.dockerSchema1Signed
  ) {
    throw invalid('schema1 manifests are not supported');
  }
  if (!genericTypes.has(header)) {
    if (inBody !== undefined && inBody !== header) {
      throw invalid(`mediaType ${inBody} in the manifest does not match Content-Type ${header}`);
    }
    return header;
  }
  if (inBody !== undefined) return inBody;
  return Array.isArray(body['manifests']) ? mediaTypes.ociIndex : mediaTypes.ociManifest;
}

function zodDetail(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message }));
}

/** Parses and validates a manifest body. Throws MANIFEST_INVALID with the offending field in the detail. */
export function parseManifest(content: Buffer, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw invalid('not valid JSON', { reason: (err as Error).message });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('not a JSON object');
  const body = json as Record<string, unknown>;
  const mediaType = resolveMediaType(contentType, body);

  switch (mediaType) {
    case mediaTypes.ociManifest:
    case mediaTypes.dockerManifest: {
      const parsed = imageManifestSchema.safeParse(body);
      if (!parsed.success) throw invalid('bad image manifest', zodDetail(parsed.error));
      const m = parsed.data;
      if (mediaType === mediaTypes.dockerManifest && m.subject)
        throw invalid('docker manifests have no subject');
      const layers = m.layers.filter((l) => !(l.urls && l.urls.length > 0));
      return {
        mediaType,
        blobs: [m.config, ...layers],
        manifests: [],
        ...(m.subject ? { subject: m.subject } : {}),
        ...(m.artifactType || m.config.mediaType
          ? { artifactType: m.artifactType ?? m.config.mediaType }
          : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      };
    }
    case mediaTypes.ociIndex:
    case mediaTypes.dockerManifestList: {
      const parsed = indexSchema.safeParse(body);
      if (!parsed.success) throw invalid('bad index', zodDetail(parsed.error));
      const m = parsed.data;
      return {
        mediaType,
        blobs: [],
        manifests: m.manifests,
        ...(m.subject ? { subject: m.subject } : {}),
        ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      };
    }
    default:
      throw invalid(`unsupported manifest media type ${mediaType}`);
  }
}

/** Reads the media type of stored manifest bytes (already validated on PUT) without full validation. */
export function storedMediaType(content: Buffer): string {
  try {
    const body = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    if (typeof body['mediaType'] === 'string') return body['mediaType'];
    if (body['schemaVersion'] === 1)
      return body['signatures'] ? mediaTypes.dockerSchema1Signed : mediaTypes.dockerSchema1;
    return Array.isArray(body['manifests']) ? mediaTypes.ociIndex : mediaTypes.ociManifest;
  } catch {
    return mediaTypes.ociManifest;
  }
}
