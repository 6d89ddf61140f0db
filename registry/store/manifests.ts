// Manifest storage: bytes in the blob store, a revision link per repository, tags, and the referrers index.
import { RegistryError } from '../errors.ts';
import { digestOf, type DigestAlgorithm } from '../digest.ts';
import { parseManifest, storedMediaType, type Descriptor, type ParsedManifest } from '../manifest.ts';
import { isPathNotFound } from '../storage/driver.ts';
import type { BlobStore } from './blob-store.ts';
import type { Repository } from './repository.ts';
import { ManifestCache, type CachedManifest } from './manifest-cache.ts';

export interface StoredManifest extends CachedManifest {
  digest: string;
}

export interface PutManifestResult {
  digest: string;
  mediaType: string;
  subject?: string;
}

export class ManifestStore {
  readonly blobs: BlobStore;
  readonly cache: ManifestCache;

  constructor(blobs: BlobStore, cache = new ManifestCache()) {
    this.blobs = blobs;
    this.cache = cache;
  }

  /** The manifest with this digest in this repository, or null when the repository does not hold it. */
  async get(repo: Repository, digest: string): Promise<StoredManifest | null> {
    if (!(await repo.hasManifest(digest))) return null;
    return this.load(digest);
  }

  /** Reads manifest bytes by digest (no repository check), through the cache. */
  async load(digest: string): Promise<StoredManifest | null> {
    const cached = this.cache.get(digest);
    if (cached) return { digest, ...cached };
    let content: Buffer;
    try {
      content = await this.blobs.getContent(digest);
    } catch (err) {
      if (isPathNotFound(err)) return null;
      throw err;
    }
    const entry = { content, mediaType: storedMediaType(content) };
    this.cache.set(digest, entry);
    return { digest, ...entry };
  }

  /**
   * Validates and stores a manifest pushed under a tag or a digest. Every blob and child manifest it names
   * must already be in the repository (MANIFEST_BLOB_UNKNOWN otherwise); the subject need not be.
   */
  async put(
    repo: Repository,
    reference: { tag?: string; digest?: string; algorithm?: DigestAlgorithm },
    content: Buffer,
    contentType: string | undefined,
  ): Promise<PutManifestResult> {
    const parsed = parseManifest(content, contentType);
    const digest = digestOf(content, reference.algorithm ?? 'sha256');
    if (reference.digest !== undefined && reference.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest did not match the reference', {
        detail: { expected: reference.digest, actual: digest },
      });
    }
    await this.checkReferences(repo, parsed);

    this.cache.set(digest, { content, mediaType: parsed.mediaType });
    if ((await this.blobs.size(digest)) === null) await this.blobs.putContent(digest, content);
    await repo.linkManifest(digest);
    if (parsed.subject) await repo.addReferrer(parsed.subject.digest, digest);
    if (reference.tag !== undefined) await repo.tag(reference.tag, digest);
    return {
      digest,
      mediaType: parsed.mediaType,
      ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
    };
  }

  /** Deletes a manifest revision from a repository, with every tag that points at it (Distribution v3). */
  async delete(repo: Repository, digest: string): Promise<void> {
    const manifest = await this.get(repo, digest);
    if (!manifest) throw manifestUnknown(digest);
    for (const tag of await repo.tagsPointingTo(digest)) await repo.untag(tag);
    await repo.unlinkManifest(digest);
    const subject = subjectOf(manifest);
    if (subject) await repo.removeReferrer(subject, digest);
  }

  /** The referrers of subject in repo as descriptors, optionally filtered by artifactType. */
  async referrers(repo: Repository, subject: string, artifactType?: string): Promise<Descriptor[]> {
    const result: Descriptor[] = [];
    for (const digest of await repo.referrers(subject)) {
      const manifest = await this.get(repo, digest);
      if (!manifest) continue;
      const descriptor = referrerDescriptor(manifest);
      if (artifactType === undefined || descriptor.artifactType === artifactType) result.push(descriptor);
    }
    return result;
  }

  private async checkReferences(repo: Repository, parsed: ParsedManifest): Promise<void> {
    const missing: string[] = [];
    await Promise.all([
      ...parsed.blobs.map(async (blob) => {
        if (!(await repo.hasLayer(blob.digest)) || (await this.blobs.size(blob.digest)) === null) {
          missing.push(blob.digest);
        }
      }),
      ...parsed.manifests.map(async (child) => {
        if (!(await repo.hasManifest(child.digest))) missing.push(child.digest);
      }),
    ]);
    if (missing.length > 0) {
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        'manifest references blobs or manifests unknown to the repository',
        {
          detail: { digests: missing.sort() },
        },
      );
    }
  }
}

export function manifestUnknown(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { detail: { reference } });
}

function subjectOf(manifest: StoredManifest): string | undefined {
  try {
    return parseManifest(manifest.content, manifest.mediaType).subject?.digest;
  } catch {
    return undefined;
  }
}

function referrerDescriptor(manifest: StoredManifest): Descriptor {
  let parsed: ParsedManifest | undefined;
  try {
    parsed = parseManifest(manifest.content, manifest.mediaType);
  } catch {
    parsed = undefined;
  }
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.content.length,
    ...(parsed?.artifactType ? { artifactType: parsed.artifactType } : {}),
    ...(parsed?.annotations ? { annotations: parsed.annotations } : {}),
  };
}
