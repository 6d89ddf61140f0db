// `walk` over an object store from one flat listing (1,000 keys per request instead of one request per
// directory), in the order the StorageDriver contract promises: depth first, lexical by path segment.
//
// A flat listing is sorted by the bytes of the whole key, which differs from segment order in one case only:
// a sibling whose name extends a directory's name with a character below '/' (allowed names have '-' and '.')
// sorts before that directory's children ("a.c" < "a/1") although the whole "a" subtree must be visited first.
// Entries therefore pass through a small priority queue keyed by segment order ('/' ranked lowest), and one
// leaves the queue only once no key still to come can rank before it: for each position where the entry
// has a character below '/', the listing must have moved past every key that has '/' there instead. Only
// such siblings' subtrees are ever held back, so memory stays small on registry layouts.
//
// Directories are synthesized from the keys below them (object stores have no directory objects). When the
// visitor declines to descend into a directory, its remaining keys are skipped in the listing itself
// (`StartAfter`) rather than read and dropped.
import { isAddressableName, type FileInfo, type StorageDriver, type WalkOptions } from './driver.ts';

type Visitor = Parameters<StorageDriver['walk']>[1];

/** An object from a flat listing, with its key relative to the walk's root (no leading slash). */
export interface ListedObject {
  key: string;
  size: number;
  modTime: Date;
}

export interface ListingPage {
  objects: ListedObject[];
  /** Continuation of this listing, absent on the last page. */
  next?: string;
}

/** Fetches one page: continue `next`, or start at the first key after `startAfter` (relative), or from the top. */
export type ListPage = (from: { next?: string; startAfter?: string }) => Promise<ListingPage>;

interface Entry {
  rel: string;
  order: string;
  info: FileInfo;
}

/** Segment order as a plain string order: '/' becomes the lowest character. */
function segmentOrder(rel: string): string {
  return rel.replaceAll('/', '\u0000');
}

class EntryHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || p.order <= entry.order) break;
      items[i] = p;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): Entry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const l = items[left];
      const r = items[right];
      let child = left;
      let c = l;
      if (r !== undefined && l !== undefined && r.order < l.order) {
        child = right;
        c = r;
      }
      if (c === undefined || last.order <= c.order) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * Walks everything a flat listing returns below `root` (a driver path), calling `visit` in segment order.
 * Returns false when the listing held nothing addressable (the caller reports PathNotFound).
 */
export async function walkFlatListing(
  root: string,
  listPage: ListPage,
  visit: Visitor,
  options: WalkOptions = {},
): Promise<boolean> {
  const heap = new EntryHeap();
  const skipped = new Set<string>();
  let last = '';
  let done = false;
  let found = false;
  /** The directory chain (relative paths) of the last key, so each directory is queued once. */
  let chain: string[] = [];

  const fullPath = (rel: string): string => (root === '/' ? `/${rel}` : `${root}/${rel}`);

  /** The outermost skipped directory that contains rel, if any. */
  const skippedAncestor = (rel: string): string | undefined => {
    if (skipped.size === 0) return undefined;
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
      const dir = rel.slice(0, i);
      if (skipped.has(dir)) return dir;
    }
    return undefined;
  };

  /** True when no key still to come can rank before rel in segment order. */
  const settled = (rel: string): boolean => {
    if (done) return true;
    for (let i = 0; i < rel.length; i++) {
      if (rel.charCodeAt(i) < 0x2f && last < `${rel.slice(0, i)}0`) return false;
    }
    return true;
  };

  const drain = async (): Promise<void> => {
    for (let top = heap.peek(); top !== undefined && settled(top.rel); top = heap.peek()) {
      heap.pop();
      if (skippedAncestor(top.rel) !== undefined) continue;
      await visit(top.info);
      if (top.info.isDir && options.descend?.(top.info) === false) skipped.add(top.rel);
    }
  };

  const accept = (object: ListedObject): void => {
    last = object.key;
    const segments = object.key.split('/');
    let valid = 0;
    while (valid < segments.length && isAddressableName(segments[valid] ?? '')) valid++;
    // Every addressable segment but the last names a directory; an unaddressable key still implies the
    // directories above its first bad segment (as list() would show them).
    const depth = Math.min(valid, segments.length - 1);
    const next: string[] = [];
    for (let i = 0; i < depth; i++)
      next.push(i === 0 ? (segments[0] ?? '') : `${next[i - 1]}/${segments[i]}`);
    let same = 0;
    while (same < depth && same < chain.length && chain[same] === next[same]) same++;
    for (let i = same; i < depth; i++) {
      const rel = next[i] ?? '';
      if (skippedAncestor(`${rel}/`) !== undefined) break;
      found = true;
      heap.push({
        rel,
        order: segmentOrder(rel),
        info: { path: fullPath(rel), size: 0, modTime: object.modTime, isDir: true },
      });
    }
    chain = next;
    if (valid === segments.length && skippedAncestor(object.key) === undefined) {
      found = true;
      heap.push({
        rel: object.key,
        order: segmentOrder(object.key),
        info: { path: fullPath(object.key), size: object.size, modTime: object.modTime, isDir: false },
      });
    }
  };

  let page = await listPage({});
  for (;;) {
    // Fetch the next page while this one is visited; dropped below if a skip makes it pointless.
    let prefetch: Promise<ListingPage> | undefined;
    if (page.next !== undefined) {
      prefetch = listPage({ next: page.next });
      prefetch.catch(() => undefined);
    }
    for (const object of page.objects) {
      accept(object);
      await drain();
    }
    if (prefetch === undefined) break;
    // Past a declined directory's keys in one step: '~' ranks above every addressable character.
    const declined = skippedAncestor(last);
    const jump = declined === undefined ? undefined : `${declined}/~`;
    page = jump !== undefined && jump > last ? await listPage({ startAfter: jump }) : await prefetch;
  }
  done = true;
  await drain();
  return found;
}
