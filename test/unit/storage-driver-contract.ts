// The StorageDriver contract as a reusable suite: every driver (filesystem, inmemory, and later s3, gcs,
// azure) runs the same cases, so code above the interface can rely on exactly this behaviour.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
  type FileInfo,
  type StorageDriver,
} from '../../registry/storage/driver.ts';

export interface StorageDriverFactory {
  /** Returns a driver over an empty, isolated namespace (a fresh directory, bucket prefix, ...). */
  create(): Promise<StorageDriver>;
  /** Releases what create() made. */
  destroy?(driver: StorageDriver): Promise<void>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeFile(driver: StorageDriver, path: string, content: string | Buffer): Promise<void> {
  await driver.putContent(path, typeof content === 'string' ? Buffer.from(content) : content);
}

async function text(driver: StorageDriver, path: string): Promise<string> {
  return (await driver.getContent(path)).toString('utf8');
}

const notFound = (err: unknown) => err instanceof PathNotFoundError;

export function storageDriverContract(label: string, factory: StorageDriverFactory): void {
  describe(`StorageDriver contract: ${label}`, () => {
    let driver: StorageDriver;

    beforeEach(async () => {
      driver = await factory.create();
    });

    afterEach(async () => {
      await factory.destroy?.(driver);
    });

    describe('getContent / putContent', () => {
      it('round-trips text, binary and empty content', async () => {
        const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await writeFile(driver, '/a/text', 'hello');
        await writeFile(driver, '/a/binary', binary);
        await writeFile(driver, '/a/empty', Buffer.alloc(0));
        assert.equal(await text(driver, '/a/text'), 'hello');
        assert.deepEqual(await driver.getContent('/a/binary'), binary);
        assert.equal((await driver.getContent('/a/empty')).length, 0);
      });

      it('overwrites with shorter content', async () => {
        await writeFile(driver, '/o/file', 'a much longer first version');
        await writeFile(driver, '/o/file', 'short');
        assert.equal(await text(driver, '/o/file'), 'short');
        assert.equal((await driver.stat('/o/file')).size, 5);
      });

      it('creates parent directories', async () => {
        await writeFile(driver, '/p/q/r/s', 'x');
        assert.equal((await driver.stat('/p/q')).isDir, true);
        assert.equal((await driver.stat('/p/q/r')).isDir, true);
      });

      it('accepts the path layout Distribution uses', async () => {
        const path =
          '/docker/registry/v2/repositories/library/alpine/_manifests/tags/v3.20_rc-1/current/link';
        await writeFile(driver, path, 'sha256:abc');
        assert.equal(await text(driver, path), 'sha256:abc');
      });

      it('throws PathNotFoundError for a missing path or a directory', async () => {
        await assert.rejects(driver.getContent('/missing'), notFound);
        await writeFile(driver, '/d/file', 'x');
        await assert.rejects(driver.getContent('/d'), notFound);
        await assert.rejects(driver.getContent('/d/file/below'), notFound);
      });

      it('leaves one complete version when writers race', async () => {
        const versions = Array.from({ length: 8 }, (_, i) => `version ${i} `.repeat(1000 * (i + 1)));
        await Promise.all(versions.map((v) => writeFile(driver, '/race/file', v)));
        assert.ok(versions.includes(await text(driver, '/race/file')));
        assert.deepEqual(await driver.list('/race'), ['/race/file']);
      });

      it('returns a copy that does not alias stored content', async () => {
        await writeFile(driver, '/copy', 'abc');
        const first = await driver.getContent('/copy');
        first.fill(0);
        assert.equal(await text(driver, '/copy'), 'abc');
      });
    });

    describe('reader', () => {
      const content = randomBytes(3000);

      it('streams the whole object as bytes', async () => {
        await writeFile(driver, '/r/blob', content);
        const stream = await driver.reader('/r/blob');
        assert.equal(stream.readableObjectMode, false);
        assert.deepEqual(await readAll(stream), content);
      });

      it('streams byte ranges with an inclusive end', async () => {
        await writeFile(driver, '/r/blob', content);
        const range = async (offset?: number, end?: number) =>
          readAll(await driver.reader('/r/blob', { ...(offset === undefined ? {} : { offset }), end }));
        assert.deepEqual(await range(1000), content.subarray(1000));
        assert.deepEqual(await range(10, 19), content.subarray(10, 20));
        assert.deepEqual(await range(undefined, 0), content.subarray(0, 1));
        assert.deepEqual(await range(2999, 2999), content.subarray(2999));
        assert.deepEqual(await range(2990, 100000), content.subarray(2990), 'end past the size is clamped');
        assert.equal((await range(3000)).length, 0, 'offset at the size reads nothing');
        assert.equal((await range(20, 10)).length, 0, 'end before offset reads nothing');
      });

      it('streams an empty object', async () => {
        await writeFile(driver, '/r/empty', Buffer.alloc(0));
        assert.equal((await readAll(await driver.reader('/r/empty'))).length, 0);
        assert.equal((await readAll(await driver.reader('/r/empty', { offset: 0 }))).length, 0);
      });

      it('throws InvalidOffsetError past the end or for a negative offset', async () => {
        await writeFile(driver, '/r/blob', content);
        await assert.rejects(driver.reader('/r/blob', { offset: 3001 }), (err) => {
          assert.ok(err instanceof InvalidOffsetError);
          assert.equal(err.offset, 3001);
          return true;
        });
        await assert.rejects(driver.reader('/r/blob', { offset: -1 }), InvalidOffsetError);
      });

      it('throws PathNotFoundError for a missing path or a directory', async () => {
        await assert.rejects(driver.reader('/r/missing'), notFound);
        await assert.rejects(driver.reader('/r/missing', { offset: 10 }), notFound);
        await writeFile(driver, '/r/dir/file', 'x');
        await assert.rejects(driver.reader('/r/dir'), notFound);
      });
    });

    describe('writer', () => {
      it('commits streamed chunks and counts their size', async () => {
        const writer = await driver.writer('/w/data', false);
        assert.equal(writer.size, 0);
        const parts = [Buffer.from('abc'), Buffer.alloc(0), randomBytes(3 << 20), Buffer.from('xyz')];
        let expected = 0;
        for (const part of parts) {
          await writer.write(part);
          expected += part.length;
          assert.equal(writer.size, expected);
        }
        await writer.commit();
        assert.deepEqual(await driver.getContent('/w/data'), Buffer.concat(parts));
        assert.equal((await driver.stat('/w/data')).size, expected);
      });

      // Bounded: a filesystem writer that released too early hung on the emptied chunk instead of failing.
      it(
        'calls released once per chunk, only when done with it: freeing each chunk there keeps the content',
        { timeout: 60_000 },
        async () => {
          // The registry detaches a body chunk's memory in `released` (registry/body-chunks.ts); a writer that
          // released a chunk it still had to read would store zeros or too few bytes, or throw.
          const writer = await driver.writer('/w/released', false);
          const hash = createHash('sha256');
          const sizes = [64 << 10, 1, 0, 3 << 20, 64 << 10, 5 << 20, 7];
          let releases = 0;
          for (const size of sizes) {
            const chunk = new Uint8Array(new ArrayBuffer(size));
            chunk.set(randomBytes(size));
            hash.update(chunk);
            let released = false;
            await writer.write(chunk, () => {
              assert.equal(released, false, 'released twice');
              released = true;
              releases++;
              chunk.buffer.transfer(0);
            });
          }
          await writer.commit();
          assert.equal(releases, sizes.length, 'every chunk released by commit');
          const stored = createHash('sha256');
          for await (const chunk of await driver.reader('/w/released')) stored.update(chunk as Buffer);
          assert.equal(stored.digest('hex'), hash.digest('hex'));
        },
      );

      it('keeps many small chunks in order', async () => {
        const hash = createHash('sha256');
        const writer = await driver.writer('/w/many', false);
        let size = 0;
        for (let i = 0; i < 3000; i++) {
          const chunk = randomBytes(1 + (i % 977));
          hash.update(chunk);
          size += chunk.length;
          await writer.write(chunk);
        }
        await writer.commit();
        const stored = createHash('sha256');
        for await (const chunk of await driver.reader('/w/many')) stored.update(chunk as Buffer);
        assert.equal(stored.digest('hex'), hash.digest('hex'));
        assert.equal((await driver.stat('/w/many')).size, size);
      });

      it('resumes closed content with append', async () => {
        const first = await driver.writer('/w/upload', false);
        await first.write(Buffer.from('hello '));
        await first.close();

        const second = await driver.writer('/w/upload', true);
        assert.equal(second.size, 6);
        await second.write(Buffer.from('big '));
        await second.close();

        const third = await driver.writer('/w/upload', true);
        assert.equal(third.size, 10);
        await third.write(Buffer.from('world'));
        assert.equal(third.size, 15);
        await third.commit();
        assert.equal(await text(driver, '/w/upload'), 'hello big world');
        assert.equal((await driver.stat('/w/upload')).size, 15);
      });

      it('starts empty when appending to nothing', async () => {
        const writer = await driver.writer('/w/fresh/data', true);
        assert.equal(writer.size, 0);
        await writer.write(Buffer.from('x'));
        await writer.commit();
        assert.equal(await text(driver, '/w/fresh/data'), 'x');
      });

      it('replaces earlier content without append', async () => {
        await writeFile(driver, '/w/replace', 'old content');
        const writer = await driver.writer('/w/replace', false);
        assert.equal(writer.size, 0);
        await writer.write(Buffer.from('new'));
        await writer.commit();
        assert.equal(await text(driver, '/w/replace'), 'new');
      });

      it('cancel discards this and earlier sessions', async () => {
        const first = await driver.writer('/w/cancel/data', false);
        await first.write(Buffer.from('first'));
        await first.close();
        const second = await driver.writer('/w/cancel/data', true);
        await second.write(Buffer.from('second'));
        await second.cancel();
        await assert.rejects(driver.getContent('/w/cancel/data'), notFound);
        const again = await driver.writer('/w/cancel/data', true);
        assert.equal(again.size, 0);
        await again.cancel();
      });

      it('refuses use after commit', async () => {
        const writer = await driver.writer('/w/done', false);
        await writer.write(Buffer.from('x'));
        await writer.commit();
        await assert.rejects(writer.write(Buffer.from('y')));
        await assert.rejects(writer.commit());
        await assert.rejects(writer.close());
        assert.equal(await text(driver, '/w/done'), 'x');
      });
    });

    describe('move', () => {
      it('moves an object and creates the destination parents', async () => {
        await writeFile(driver, '/m/src', 'payload');
        await driver.move('/m/src', '/m/new/parents/dest');
        assert.equal(await text(driver, '/m/new/parents/dest'), 'payload');
        await assert.rejects(driver.getContent('/m/src'), notFound);
      });

      it('replaces the destination', async () => {
        await writeFile(driver, '/m/src', 'new');
        await writeFile(driver, '/m/dest', 'old and longer');
        await driver.move('/m/src', '/m/dest');
        assert.equal(await text(driver, '/m/dest'), 'new');
        await assert.rejects(driver.stat('/m/src'), notFound);
      });

      it('throws PathNotFoundError for a missing source', async () => {
        await assert.rejects(driver.move('/m/missing', '/m/dest'), notFound);
        await assert.rejects(driver.stat('/m/dest'), notFound);
      });
    });

    describe('delete', () => {
      it('deletes a file but not siblings sharing its name as a prefix', async () => {
        await writeFile(driver, '/x/a', '1');
        await writeFile(driver, '/x/ab', '2');
        await writeFile(driver, '/x/a.b', '3');
        await driver.delete('/x/a');
        await assert.rejects(driver.stat('/x/a'), notFound);
        assert.deepEqual(await driver.list('/x'), ['/x/a.b', '/x/ab']);
      });

      it('deletes a subtree', async () => {
        await writeFile(driver, '/t/keep', '1');
        await writeFile(driver, '/t/sub/a', '2');
        await writeFile(driver, '/t/sub/deep/b', '3');
        await writeFile(driver, '/t/subway/c', '4');
        await driver.delete('/t/sub');
        await assert.rejects(driver.stat('/t/sub'), notFound);
        await assert.rejects(driver.getContent('/t/sub/deep/b'), notFound);
        assert.deepEqual(await driver.list('/t'), ['/t/keep', '/t/subway']);
        await driver.delete('/t');
        await assert.rejects(driver.stat('/t'), notFound);
        await assert.rejects(driver.getContent('/t/subway/c'), notFound);
      });

      it('deleteFiles, where the driver has it, deletes exactly the files named, missing ones included', async () => {
        // An optional capability (S3 has it); the filesystem removes directories whole and must not offer it.
        if (!driver.deleteFiles) {
          assert.notEqual(driver.name, 's3');
          return;
        }
        for (let i = 0; i < 5; i++) await writeFile(driver, `/d/${i}/link`, String(i));
        await writeFile(driver, '/d/keep', 'k');
        await driver.deleteFiles(['/d/0/link', '/d/1/link', '/d/3/link', '/d/missing/link']);
        assert.deepEqual(await driver.list('/d'), ['/d/2', '/d/4', '/d/keep']);
        await driver.deleteFiles([]);
        await assert.rejects(driver.deleteFiles(['/d/../x']), InvalidPathError);
        assert.equal(await text(driver, '/d/2/link'), '2');
      });

      it('throws PathNotFoundError when nothing is there', async () => {
        await assert.rejects(driver.delete('/nothing'), notFound);
        await writeFile(driver, '/once', 'x');
        await driver.delete('/once');
        await assert.rejects(driver.delete('/once'), notFound);
      });
    });

    describe('list', () => {
      it('returns direct children as sorted absolute paths', async () => {
        for (const path of ['/l/b', '/l/a', '/l/c/d', '/l/a.x', '/l/c/e/f', '/l/B'])
          await writeFile(driver, path, 'x');
        assert.deepEqual(await driver.list('/l'), ['/l/B', '/l/a', '/l/a.x', '/l/b', '/l/c']);
        assert.deepEqual(await driver.list('/l/c'), ['/l/c/d', '/l/c/e']);
        assert.deepEqual(await driver.list('/'), ['/l']);
      });

      it('throws PathNotFoundError for a missing directory or a file', async () => {
        await assert.rejects(driver.list('/'), notFound, 'an empty driver has nothing at the root');
        await assert.rejects(driver.list('/none'), notFound);
        await writeFile(driver, '/l/file', 'x');
        await writeFile(driver, '/l/file.d/x', 'x');
        await assert.rejects(driver.list('/l/file'), notFound);
      });
    });

    describe('stat', () => {
      it('describes files and directories', async () => {
        const before = Date.now();
        await writeFile(driver, '/s/dir/file', 'twelve bytes');
        const file = await driver.stat('/s/dir/file');
        assert.equal(file.path, '/s/dir/file');
        assert.equal(file.size, 12);
        assert.equal(file.isDir, false);
        assert.ok(file.modTime instanceof Date);
        // Generous bounds: filesystem timestamps may be coarse or slightly behind the clock.
        assert.ok(Math.abs(file.modTime.getTime() - before) < 60_000);

        const dir = await driver.stat('/s/dir');
        assert.deepEqual(
          { path: dir.path, size: dir.size, isDir: dir.isDir },
          { path: '/s/dir', size: 0, isDir: true },
        );
        assert.ok(dir.modTime instanceof Date);
      });

      it('throws PathNotFoundError for a missing path', async () => {
        await assert.rejects(driver.stat('/s/missing'), notFound);
        await writeFile(driver, '/s/file', 'x');
        await assert.rejects(driver.stat('/s/file/below'), notFound);
      });
    });

    describe('walk', () => {
      const files = ['/w/a/1', '/w/a/2/x', '/w/a.c', '/w/b', '/w/c/d/e'];

      it('visits files and directories depth first in lexical order', async () => {
        for (const path of files) await writeFile(driver, path, path);
        const seen: FileInfo[] = [];
        await driver.walk('/w', async (info) => {
          // An async visitor is awaited before the walk moves on.
          await new Promise((resolve) => setImmediate(resolve));
          seen.push(info);
        });
        assert.deepEqual(
          seen.map((i) => `${i.isDir ? 'd' : 'f'} ${i.path}`),
          [
            'd /w/a',
            'f /w/a/1',
            'd /w/a/2',
            'f /w/a/2/x',
            'f /w/a.c',
            'f /w/b',
            'd /w/c',
            'd /w/c/d',
            'f /w/c/d/e',
          ],
        );
        const file = seen.find((i) => i.path === '/w/a/2/x');
        assert.equal(file?.size, '/w/a/2/x'.length);
      });

      it('skips directories that descend rejects', async () => {
        for (const path of files) await writeFile(driver, path, path);
        const seen: string[] = [];
        const asked: string[] = [];
        await driver.walk('/w', (info) => void seen.push(info.path), {
          descend: (dir) => {
            asked.push(dir.path);
            return dir.path !== '/w/a' && dir.path !== '/w/c/d';
          },
        });
        assert.deepEqual(seen, ['/w/a', '/w/a.c', '/w/b', '/w/c', '/w/c/d']);
        assert.deepEqual(asked, ['/w/a', '/w/c', '/w/c/d']);
      });

      it('walks from the root', async () => {
        await writeFile(driver, '/r1/f', 'x');
        await writeFile(driver, '/r2', 'x');
        const seen: string[] = [];
        await driver.walk('/', (info) => void seen.push(info.path));
        assert.deepEqual(seen, ['/r1', '/r1/f', '/r2']);
      });

      it('propagates errors from the visitor', async () => {
        for (const path of files) await writeFile(driver, path, path);
        await assert.rejects(
          driver.walk('/w', () => {
            throw new Error('stop');
          }),
          /stop/,
        );
      });

      it('throws PathNotFoundError for a missing directory', async () => {
        await assert.rejects(
          driver.walk('/nowhere', () => undefined),
          notFound,
        );
      });
    });

    describe('redirectURL', () => {
      it('returns null or a URL', async () => {
        await writeFile(driver, '/u/blob', 'x');
        const url = await driver.redirectURL('/u/blob', 'GET');
        assert.ok(url === null || /^https?:\/\//.test(url));
      });
    });

    describe('path validation', () => {
      const bad = [
        ...['../x', 'a//b', 'relative/path', '', '/a//b', '/a/../b', '/a/./b', '/a/', '/a b', '/a\\b'],
        ...['/..', '/.', '/a/..', '/a/.', '/../a', '/a/%2e%2e/b', '/a\0b'],
      ];
      const operations: [string, (path: string) => Promise<unknown>][] = [
        ['getContent', (p) => driver.getContent(p)],
        ['putContent', (p) => driver.putContent(p, Buffer.from('x'))],
        ['reader', (p) => driver.reader(p)],
        ['writer', (p) => driver.writer(p, false)],
        ['writer append', (p) => driver.writer(p, true)],
        ['stat', (p) => driver.stat(p)],
        ['list', (p) => driver.list(p)],
        ['move from', (p) => driver.move(p, '/ok')],
        ['move to', (p) => driver.move('/src', p)],
        ['delete', (p) => driver.delete(p)],
        ['redirectURL', (p) => driver.redirectURL(p, 'GET')],
        ['walk', (p) => driver.walk(p, () => undefined)],
      ];

      it('rejects invalid paths on every operation with InvalidPathError', async () => {
        await writeFile(driver, '/src', 'x');
        for (const [name, operation] of operations) {
          for (const path of bad) {
            await assert.rejects(operation(path), InvalidPathError, `${name}(${JSON.stringify(path)})`);
          }
        }
        // Nothing was written or moved by the refused calls.
        assert.deepEqual(await driver.list('/'), ['/src']);
      });

      it('accepts names made of dots that are not . or ..', async () => {
        for (const path of ['/...a', '/.a', '/a..b', '/..a/.b']) {
          await driver.putContent(path, Buffer.from(path));
          assert.equal((await driver.getContent(path)).toString(), path);
          await driver.delete(path);
        }
      });
    });
  });
}
