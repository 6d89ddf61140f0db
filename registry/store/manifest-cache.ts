// Manifests are content-addressed and immutable, so a digest's bytes can be cached forever without
// invalidation. The cache is bounded by total bytes; least recently used entries go first.

export interface CachedManifest {
  content: Buffer;
  mediaType: string;
}

export class ManifestCache {
  private readonly entries = new Map<string, CachedManifest>();
  private bytes = 0;
  readonly maxBytes: number;

  constructor(maxBytes = 64 * 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  get(digest: string): CachedManifest | undefined {
    const entry = this.entries.get(digest);
    if (entry) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.entries.delete(digest);
      this.entries.set(digest, entry);
    }
    return entry;
  }

  set(digest: string, entry: CachedManifest): void {
    if (entry.content.length > this.maxBytes || this.entries.has(digest)) return;
    this.entries.set(digest, entry);
    this.bytes += entry.content.length;
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= value.content.length;
    }
  }
}
