// `storage.cache.blobdescriptor: inmemory` (Distribution's key): blob sizes and repository links the registry
// has seen, so a blob HEAD or a redirected GET answers without a round trip to an object store. Only positive
// answers are kept — a missing blob is always looked up again.
//
// Staleness is what made Distribution's cache a complaint ("layer already exists" after GC): GC deletes blobs
// behind the registry's back. It can only do so while the registry is read-only (the collector's guard), so
// the cache is not used while read-only and is emptied whenever the mode changes: what it holds was seen in
// the current read-write period, in which nothing sweeps. A DELETE through this process drops its entry; a
// DELETE on another replica is not seen until the next mode change (Distribution's cache has the same limit).

export class BlobDescriptorCache {
  private readonly sizes = new Map<string, number>();
  private readonly links = new Set<string>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  size(digest: string): number | undefined {
    return this.sizes.get(digest);
  }

  rememberSize(digest: string, size: number): void {
    if (this.maxEntries === 0) return;
    if (this.sizes.size >= this.maxEntries && !this.sizes.has(digest)) evictOldest(this.sizes);
    this.sizes.set(digest, size);
  }

  linked(repository: string, digest: string): boolean {
    return this.links.has(linkKey(repository, digest));
  }

  rememberLink(repository: string, digest: string): void {
    if (this.maxEntries === 0) return;
    const key = linkKey(repository, digest);
    if (this.links.size >= this.maxEntries && !this.links.has(key)) evictOldest(this.links);
    this.links.add(key);
  }

  forgetLink(repository: string, digest: string): void {
    this.links.delete(linkKey(repository, digest));
  }

  clear(): void {
    this.sizes.clear();
    this.links.clear();
  }
}

function linkKey(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

/** Insertion order: the first key is the oldest entry. */
function evictOldest(entries: Map<string, unknown> | Set<string>): void {
  const oldest = entries.keys().next();
  if (oldest.done !== true) entries.delete(oldest.value);
}
