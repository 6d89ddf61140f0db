// One repository's links: which blobs and manifests it holds, its tags, and Berth's referrers index.
import type { StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { deleteIfExists, exists, listNames, readLink, writeLink } from './links.ts';
import { isDigest } from '../digest.ts';

export class Repository {
  readonly driver: StorageDriver;
  readonly name: string;

  constructor(driver: StorageDriver, name: string) {
    this.driver = driver;
    this.name = name;
  }

  /** A repository exists once anything was pushed to it (Distribution's notion: a `_manifests` or `_layers` dir). */
  async exists(): Promise<boolean> {
    return (
      (await exists(this.driver, paths.manifestsRoot(this.name))) ||
      (await exists(this.driver, paths.layersRoot(this.name)))
    );
  }

  async hasLayer(digest: string): Promise<boolean> {
    return (await readLink(this.driver, paths.layerLinkPath(this.name, digest))) === digest;
  }

  linkLayer(digest: string): Promise<void> {
    return writeLink(this.driver, paths.layerLinkPath(this.name, digest), digest);
  }

  async unlinkLayer(digest: string): Promise<boolean> {
    return deleteIfExists(this.driver, paths.layerLinkPath(this.name, digest).replace(/\/link$/, ''));
  }

  async hasManifest(digest: string): Promise<boolean> {
    return (await readLink(this.driver, paths.manifestRevisionLinkPath(this.name, digest))) === digest;
  }

  linkManifest(digest: string): Promise<void> {
    return writeLink(this.driver, paths.manifestRevisionLinkPath(this.name, digest), digest);
  }

  unlinkManifest(digest: string): Promise<boolean> {
    return deleteIfExists(this.driver, paths.manifestRevisionDir(this.name, digest));
  }

  resolveTag(tag: string): Promise<string | null> {
    return readLink(this.driver, paths.tagCurrentLinkPath(this.name, tag));
  }

  /** Points a tag at a manifest. The index link records the tag's history, as Distribution does. */
  async tag(tag: string, digest: string): Promise<void> {
    await writeLink(this.driver, paths.tagIndexLinkPath(this.name, tag, digest), digest);
    await writeLink(this.driver, paths.tagCurrentLinkPath(this.name, tag), digest);
  }

  untag(tag: string): Promise<boolean> {
    return deleteIfExists(this.driver, paths.tagDir(this.name, tag));
  }

  /** Tag names, sorted lexically (the order the tags list pagination relies on). */
  async tags(): Promise<string[]> {
    const names = await listNames(this.driver, paths.tagsRoot(this.name));
    return names.sort();
  }

  async tagsPointingTo(digest: string): Promise<string[]> {
    const tags = await this.tags();
    const targets = await Promise.all(tags.map((tag) => this.resolveTag(tag)));
    return tags.filter((_, i) => targets[i] === digest);
  }

  addReferrer(subject: string, referrer: string): Promise<void> {
    return writeLink(this.driver, paths.referrerLinkPath(this.name, subject, referrer), referrer);
  }

  removeReferrer(subject: string, referrer: string): Promise<boolean> {
    return deleteIfExists(
      this.driver,
      paths.referrerLinkPath(this.name, subject, referrer).replace(/\/link$/, ''),
    );
  }

  /** Digests recorded as referring to subject (they may since have been deleted: callers check). */
  async referrers(subject: string): Promise<string[]> {
    const dir = paths.referrersDir(this.name, subject);
    const result: string[] = [];
    for (const algorithm of await listNames(this.driver, dir)) {
      for (const hex of await listNames(this.driver, `${dir}/${algorithm}`)) {
        const digest = `${algorithm}:${hex}`;
        if (isDigest(digest)) result.push(digest);
      }
    }
    return result.sort();
  }
}
