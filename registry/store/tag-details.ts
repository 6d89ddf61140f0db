// What Berth's tag-details API says about each tag: where it points, what the manifest is, how big the image
// is, and the two dates cleanup policies order tags by (the image config's `created` and the time the tag
// was written). Everything is read from the links and manifests the OCI API serves; nothing is indexed ahead.
import { z } from 'zod';
import { forEachConcurrent } from '../gc/limit.ts';
import {
  descriptorSchema,
  maxManifestSize,
  mediaTypes,
  parseManifest,
  type Descriptor,
  type ParsedManifest,
} from '../manifest.ts';
import { isPathNotFound } from '../storage/driver.ts';
import { tagCurrentLinkPath } from '../storage/paths.ts';
import type { ManifestStore, StoredManifest } from './manifests.ts';
import type { Repository } from './repository.ts';

export interface TagDetails {
  name: string;
  /** The digest the tag's current link holds; absent when the link is missing or holds no digest. */
  digest?: string;
  /** When the tag's current link was last written (each push of the tag rewrites it): the driver's stat. */
  tagWrittenAt?: Date;
  /** The manifest's media type; absent when the repository does not hold the manifest (a dangling tag). */
  mediaType?: string;
  /** Bytes of the manifest itself; absent with mediaType. */
  size?: number;
  /**
   * Bytes of the manifest plus every distinct blob and child manifest it references that the registry stores
   * (config, layers, index children and theirs; foreign layers excluded), each counted once: what a pull of
   * every platform fetches. Absent when part of it is missing. Not what deleting the tag frees (content is
   * shared between tags and repositories).
   */
  totalSize?: number;
  /** An image manifest: its config's `created`. An index: the newest `created` of its images. */
  created?: Date;
  /** An index: the digests of the manifests it lists (a pod may run one of them by digest). */
  manifests?: string[];
}

/** Storage reads in flight per request: a page of tags costs a few small reads per tag. */
const concurrency = 8;
/** Index nesting followed for sizes and dates (real indexes nest at most once). */
const maxDepth = 4;
/** Image configs are small; a bigger one is not read for its date. */
const maxConfigBytes = maxManifestSize;

const imageManifestTypes: ReadonlySet<string> = new Set([mediaTypes.ociManifest, mediaTypes.dockerManifest]);
const imageConfigTypes: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

const configDescriptor = z.object({ config: descriptorSchema }).loose();
const imageConfig = z.object({ created: z.iso.datetime({ offset: true }).optional() }).loose();

/** Details of each tag, in the order given. Tags that vanish meanwhile come back with their name only. */
export async function tagDetails(
  manifests: ManifestStore,
  repo: Repository,
  tags: readonly string[],
): Promise<TagDetails[]> {
  const reader = new DetailsReader(manifests, repo);
  const result = new Map<string, TagDetails>();
  await forEachConcurrent(tags, concurrency, async (tag) => {
    result.set(tag, await reader.tag(tag));
  });
  return tags.map((tag) => result.get(tag) ?? { name: tag });
}

/** One request's reads; config dates are remembered by digest because tags often share images. */
class DetailsReader {
  private readonly manifests: ManifestStore;
  private readonly repo: Repository;
  private readonly configDates = new Map<string, Promise<Date | undefined>>();

  constructor(manifests: ManifestStore, repo: Repository) {
    this.manifests = manifests;
    this.repo = repo;
  }

  async tag(name: string): Promise<TagDetails> {
    // The link is read before it is stat'ed: if the tag is pushed again in between, the time is the newer
    // one, which can only make a cleanup keep the tag longer.
    const digest = await this.repo.resolveTag(name);
    const tagWrittenAt = await this.writtenAt(name);
    if (tagWrittenAt === undefined) return { name };
    if (digest === null) return { name, tagWrittenAt };
    const manifest = await this.manifests.get(this.repo, digest);
    if (!manifest) return { name, digest, tagWrittenAt };
    const closure = await this.closure(manifest);
    return {
      name,
      digest,
      tagWrittenAt,
      mediaType: manifest.mediaType,
      size: manifest.content.length,
      ...(closure.complete ? { totalSize: sum(closure.sizes.values()) } : {}),
      ...(closure.created ? { created: closure.created } : {}),
      ...(closure.children ? { manifests: closure.children } : {}),
    };
  }

  private async writtenAt(name: string): Promise<Date | undefined> {
    try {
      return (await this.repo.driver.stat(tagCurrentLinkPath(this.repo.name, name))).modTime;
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Sizes of everything the manifest references (by digest) and the newest image `created` among it. */
  private async closure(top: StoredManifest): Promise<Closure> {
    const closure: Closure = { sizes: new Map(), complete: true };
    await this.visit(top, top.content.length, 0, closure);
    return closure;
  }

  private async visit(
    manifest: StoredManifest,
    size: number,
    depth: number,
    closure: Closure,
  ): Promise<void> {
    closure.sizes.set(manifest.digest, size);
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(manifest.content, manifest.mediaType);
    } catch {
      // Stored before Berth validated it (e.g. schema1 written by Distribution): no sizes or dates to give.
      closure.complete = false;
      return;
    }
    for (const blob of parsed.blobs) closure.sizes.set(blob.digest, blob.size);
    if (imageManifestTypes.has(parsed.mediaType)) {
      const created = await this.created(manifest);
      if (created && (!closure.created || created > closure.created)) closure.created = created;
    }
    if (depth === 0 && parsed.manifests.length > 0) closure.children = parsed.manifests.map((m) => m.digest);
    for (const child of parsed.manifests) {
      if (closure.sizes.has(child.digest)) continue;
      const stored = depth + 1 < maxDepth ? await this.manifests.get(this.repo, child.digest) : null;
      if (!stored) {
        closure.complete = false;
        continue;
      }
      await this.visit(stored, child.size, depth + 1, closure);
    }
  }

  /** The `created` of an image manifest's config, when the config is an image config that has one. */
  private created(manifest: StoredManifest): Promise<Date | undefined> {
    let config: Descriptor;
    try {
      const parsed = configDescriptor.safeParse(JSON.parse(manifest.content.toString('utf8')));
      if (!parsed.success) return Promise.resolve(undefined);
      config = parsed.data.config;
    } catch {
      return Promise.resolve(undefined);
    }
    if (!imageConfigTypes.has(config.mediaType) || config.size > maxConfigBytes) {
      return Promise.resolve(undefined);
    }
    let date = this.configDates.get(config.digest);
    if (!date) {
      date = this.readCreated(config.digest);
      this.configDates.set(config.digest, date);
    }
    return date;
  }

  private async readCreated(digest: string): Promise<Date | undefined> {
    let content: Buffer;
    try {
      content = await this.manifests.blobs.getContent(digest);
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
    try {
      const created = imageConfig.safeParse(JSON.parse(content.toString('utf8'))).data?.created;
      return created === undefined ? undefined : new Date(created);
    } catch {
      return undefined;
    }
  }
}

interface Closure {
  sizes: Map<string, number>;
  /** False when a referenced manifest is missing or unreadable: totalSize is then not given. */
  complete: boolean;
  created?: Date;
  children?: string[];
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
