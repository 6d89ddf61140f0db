// What a stored manifest keeps alive, read leniently. Garbage collection must never under-mark: a manifest
// that Berth's strict `parseManifest` would refuse today (written by Distribution, an older client, or with
// foreign layers) still protects everything it names. So every descriptor digest found in the usual places
// is a reference — config, layers (foreign ones too, as Distribution marks them), index entries, the draft
// OCI artifact manifest's `blobs`, and schema1's `fsLayers` — and marking a digest that is not stored is
// harmless. Only content that is not a JSON object at all stops the collector (it cannot know what the
// manifest protects, so it must not sweep anything).
import { isDigest } from '../digest.ts';
import { GcError } from './errors.ts';

export interface ManifestReferences {
  /** Every digest the manifest references (blobs and child manifests alike, like Distribution's References()). */
  references: string[];
  /** The `subject` digest of a referrer (artifact, signature, SBOM), if any. Not a reference: a referrer
   *  does not keep its subject alive; the subject keeps its referrers. */
  subject?: string;
}

function digestOf(descriptor: unknown, key = 'digest'): string | undefined {
  if (typeof descriptor !== 'object' || descriptor === null) return undefined;
  const value = (descriptor as Record<string, unknown>)[key];
  return typeof value === 'string' && isDigest(value) ? value : undefined;
}

function digestsOf(list: unknown, key = 'digest'): string[] {
  if (!Array.isArray(list)) return [];
  const result: string[] = [];
  for (const entry of list) {
    const digest = digestOf(entry, key);
    if (digest !== undefined) result.push(digest);
  }
  return result;
}

/** Extracts references from stored manifest bytes. Throws GcError when the bytes are not a JSON object. */
export function manifestReferences(content: Buffer, where: string): ManifestReferences {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new GcError('GC_MANIFEST_UNREADABLE', `${where}: stored manifest is not valid JSON`, {
      cause: err,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GcError('GC_MANIFEST_UNREADABLE', `${where}: stored manifest is not a JSON object`);
  }
  const body = json as Record<string, unknown>;
  const references = new Set<string>();
  const add = (digest: string | undefined): void => {
    if (digest !== undefined) references.add(digest);
  };
  add(digestOf(body['config']));
  for (const digest of digestsOf(body['layers'])) add(digest);
  for (const digest of digestsOf(body['manifests'])) add(digest);
  for (const digest of digestsOf(body['blobs'])) add(digest);
  for (const digest of digestsOf(body['fsLayers'], 'blobSum')) add(digest);
  const subject = digestOf(body['subject']);
  return { references: [...references], ...(subject === undefined ? {} : { subject }) };
}
