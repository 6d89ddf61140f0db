// The S3 driver's walk runs on one flat listing sorted by whole keys and re-orders it into the contract's
// segment order. Checked here against the in-memory driver's walk (the reference order) on trees built to
// collide: sibling names that extend a directory's name with '-' or '.', across page boundaries, with and
// without directories the visitor declines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileInfo } from '../../registry/storage/driver.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import { walkFlatListing, type ListedObject, type ListPage } from '../../registry/storage/s3-walk.ts';
import { seededRandom } from '../harness/seeded-random.ts';

const names = ['a', 'a-', 'a.', 'a-b', 'a.b', 'a0', 'b', '_x', '-', '.a', 'A', 'z'];

/** Random files (relative keys) where no path is both a file and a directory, as on a real registry. */
function randomTree(seed: number, count: number): string[] {
  const next = seededRandom(seed);
  const pick = (): string => names[Math.floor(next() * names.length)] ?? 'a';
  const files = new Set<string>();
  const dirs = new Set<string>();
  while (files.size < count) {
    const depth = 1 + Math.floor(next() * 4);
    const segments = Array.from({ length: depth }, pick);
    const key = segments.join('/');
    const parents = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
    if (dirs.has(key) || parents.some((p) => files.has(p))) continue;
    files.add(key);
    for (const p of parents) dirs.add(p);
  }
  return [...files];
}

/** A fake flat listing over keys, sorted as S3 sorts them, `pageSize` per page; counts requests. */
function fakeListing(keys: string[], pageSize: number): { listPage: ListPage; requests: () => number } {
  const sorted = [...keys].sort();
  const objects: ListedObject[] = sorted.map((key) => ({ key, size: key.length, modTime: new Date(0) }));
  let requests = 0;
  const listPage: ListPage = async ({ next, startAfter }) => {
    requests++;
    let start = 0;
    if (next !== undefined) start = Number(next);
    else if (startAfter !== undefined) start = objects.findIndex((o) => o.key > startAfter);
    if (start < 0) start = objects.length;
    const page = objects.slice(start, start + pageSize);
    const end = start + page.length;
    return { objects: page, ...(end < objects.length ? { next: String(end) } : {}) };
  };
  return { listPage, requests: () => requests };
}

function describeInfo(info: FileInfo): string {
  return `${info.isDir ? 'd' : 'f'} ${info.path} ${info.isDir ? '' : info.size}`;
}

async function referenceWalk(
  keys: string[],
  root: string,
  descend?: (dir: FileInfo) => boolean,
): Promise<string[]> {
  const driver = new InMemoryDriver();
  for (const key of keys) await driver.putContent(`/${key}`, Buffer.alloc(key.length));
  const seen: string[] = [];
  await driver.walk(root, (info) => void seen.push(describeInfo(info)), descend ? { descend } : {});
  return seen;
}

async function flatWalk(
  keys: string[],
  pageSize: number,
  descend?: (dir: FileInfo) => boolean,
): Promise<{ seen: string[]; requests: number; found: boolean }> {
  const { listPage, requests } = fakeListing(keys, pageSize);
  const seen: string[] = [];
  const found = await walkFlatListing(
    '/',
    listPage,
    async (info) => {
      // The visitor is async: the walk must wait for it before moving on.
      await Promise.resolve();
      seen.push(describeInfo(info));
    },
    descend ? { descend } : {},
  );
  return { seen, requests: requests(), found };
}

describe('S3 walk over a flat listing', () => {
  it('visits in segment order where whole-key order differs', async () => {
    const keys = ['w/a/1', 'w/a/2/x', 'w/a.c', 'w/a-c/d', 'w/b', 'w/c/d/e'];
    const { seen } = await flatWalk(keys, 1000);
    assert.deepEqual(seen, await referenceWalk(keys, '/'));
    assert.deepEqual(
      seen.map((s) => s.split(' ')[1]),
      [
        '/w',
        '/w/a',
        '/w/a/1',
        '/w/a/2',
        '/w/a/2/x',
        '/w/a-c',
        '/w/a-c/d',
        '/w/a.c',
        '/w/b',
        '/w/c',
        '/w/c/d',
        '/w/c/d/e',
      ],
    );
  });

  for (const pageSize of [1, 2, 7, 1000]) {
    it(`matches the reference walk on random trees (pages of ${pageSize})`, async () => {
      for (let seed = 1; seed <= 40; seed++) {
        const keys = randomTree(seed * 7919 + pageSize, 5 + (seed % 60));
        const { seen, found } = await flatWalk(keys, pageSize);
        assert.equal(found, true);
        assert.deepEqual(seen, await referenceWalk(keys, '/'), `seed ${seed}`);
      }
    });

    it(`skips declined directories like the reference walk (pages of ${pageSize})`, async () => {
      for (let seed = 1; seed <= 40; seed++) {
        const keys = randomTree(seed * 104729 + pageSize, 5 + (seed % 60));
        const declined = new Set(['a', 'a-', 'a.b', '_x']);
        const descend = (dir: FileInfo): boolean =>
          !declined.has(dir.path.slice(dir.path.lastIndexOf('/') + 1));
        const { seen } = await flatWalk(keys, pageSize, descend);
        assert.deepEqual(seen, await referenceWalk(keys, '/', descend), `seed ${seed}`);
      }
    });
  }

  it('jumps past a declined directory instead of listing it', async () => {
    const keys = ['a/1', 'b/1', 'c/1'];
    for (let i = 0; i < 5000; i++) keys.push(`big/${String(i).padStart(5, '0')}`);
    const { seen, requests } = await flatWalk(keys, 100, (dir) => dir.path !== '/big');
    assert.deepEqual(seen, ['d /a ', 'f /a/1 3', 'd /b ', 'f /b/1 3', 'd /big ', 'd /c ', 'f /c/1 3']);
    assert.ok(requests < 10, `listed ${requests} pages for a walk that skips 5000 keys`);
  });

  it('ignores keys a path cannot address and reports an empty listing', async () => {
    const keys = ['ok/file', 'ok/bad name', 'ok//double', 'marker/', 'sp ace/x'];
    const { seen } = await flatWalk(keys, 2);
    assert.deepEqual(seen, ['d /marker ', 'd /ok ', 'f /ok/file 7']);
    assert.equal((await flatWalk([], 10)).found, false);
    assert.equal((await flatWalk(['bad name'], 10)).found, false);
  });
});
