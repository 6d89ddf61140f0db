import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PathNotFoundError, type StorageDriver } from '../../registry/storage/driver.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import { readAll, storageDriverContract } from './storage-driver-contract.ts';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
}

storageDriverContract('filesystem', {
  create: async () => new FilesystemDriver({ rootDirectory: await tempRoot() }),
  destroy: async (driver) => {
    await rm((driver as FilesystemDriver).rootDirectory, { recursive: true, force: true });
  },
});

// What garbage-collect and its workers use: the same driver with blocking system calls.
storageDriverContract('filesystem (blocking)', {
  create: async () => new FilesystemDriver({ rootDirectory: await tempRoot(), blocking: true }),
  destroy: async (driver) => {
    await rm((driver as FilesystemDriver).rootDirectory, { recursive: true, force: true });
  },
});

storageDriverContract('inmemory', {
  create: async () => new InMemoryDriver(),
});

describe('FilesystemDriver', () => {
  let root: string;
  let driver: FilesystemDriver;

  before(async () => {
    root = await tempRoot();
    driver = new FilesystemDriver({ rootDirectory: root });
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores paths under the root directory exactly as Distribution does', async () => {
    const link = '/docker/registry/v2/repositories/library/alpine/_layers/sha256/abc/link';
    await driver.putContent(link, Buffer.from('sha256:abc'));
    assert.equal(await readFile(join(root, link), 'utf8'), 'sha256:abc');

    // A file another registry wrote is read as it is.
    const blob = join(root, 'docker/registry/v2/blobs/sha256/de/def/data');
    await mkdir(join(blob, '..'), { recursive: true });
    await writeFile(blob, 'layer bytes');
    assert.equal(
      (await driver.getContent('/docker/registry/v2/blobs/sha256/de/def/data')).toString(),
      'layer bytes',
    );
  });

  it('hides temp files left by a crashed putContent from list and walk', async () => {
    await driver.putContent('/crash/a', Buffer.from('x'));
    await writeFile(join(root, 'crash', '.tmp-0123456789abcdef'), 'partial');
    await mkdir(join(root, 'crash', 'only-temp'));
    await writeFile(join(root, 'crash', 'only-temp', '.tmp-feedface'), 'partial');
    assert.deepEqual(await driver.list('/crash'), ['/crash/a', '/crash/only-temp']);
    await assert.rejects(driver.list('/crash/only-temp'), PathNotFoundError);
    const seen: string[] = [];
    await driver.walk('/crash', (info) => void seen.push(info.path));
    assert.deepEqual(seen, ['/crash/a', '/crash/only-temp']);
  });

  it('never exposes a partially written destination', async () => {
    const path = '/atomic/blob';
    const full = join(root, path);
    const sizes = new Set<number | 'absent'>();
    let done = false;
    const poll = (async () => {
      while (!done) {
        try {
          sizes.add((await stat(full)).size);
        } catch {
          sizes.add('absent');
        }
      }
    })();
    const first = Buffer.alloc(8 << 20, 1);
    const second = Buffer.alloc(24 << 20, 2);
    await driver.putContent(path, first);
    await driver.putContent(path, second);
    done = true;
    await poll;
    for (const size of sizes)
      assert.ok([first.length, second.length, 'absent'].includes(size), `saw ${size}`);
    assert.ok((await driver.getContent(path)).equals(second));
    assert.deepEqual(await readdir(join(root, 'atomic')), ['blob']);
  });

  it('removes its temp file when putContent fails', async () => {
    await driver.putContent('/fail/dir/child', Buffer.from('x'));
    // Renaming a file over a non-empty directory fails.
    await assert.rejects(driver.putContent('/fail/dir', Buffer.from('y')));
    assert.deepEqual(await readdir(join(root, 'fail')), ['dir']);
    assert.deepEqual(await readdir(join(root, '.tmp-scratch')), []);
  });

  it('keeps scratch files out of content directories and sweeps abandoned ones at start', async () => {
    await driver.putContent('/links/a/link', Buffer.from('sha256:x'));
    assert.deepEqual(await readdir(join(root, 'links/a')), ['link']);
    const scratch = join(root, '.tmp-scratch');
    await writeFile(join(scratch, 'abandoned'), 'left by a crash');
    await writeFile(join(scratch, 'in-flight'), 'another replica is writing');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(join(scratch, 'abandoned'), old, old);
    const restarted = new FilesystemDriver({ rootDirectory: root });
    await restarted.putContent('/links/b/link', Buffer.from('sha256:y'));
    assert.deepEqual(await readdir(scratch), ['in-flight']);
    assert.ok(!(await restarted.list('/')).some((p) => p.includes('tmp')), 'the scratch directory is hidden');
  });

  it('shows closed writer content at its path with the writer size', async () => {
    const writer = await driver.writer('/closed/data', false);
    await writer.write(Buffer.alloc(5000, 7));
    await writer.close();
    assert.equal((await driver.stat('/closed/data')).size, writer.size);
    assert.equal((await readAll(await driver.reader('/closed/data'))).length, 5000);
  });

  it('copies a byte range into a writable from reused buffers, and stops when the writable closes', async () => {
    const content = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < content.length; i++) content[i] = i % 251;
    await driver.putContent('/copy/data', content);
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(Buffer.from(chunk)); // copy: the driver reuses its buffers once the write is done
        setImmediate(callback);
      },
    });
    await driver.copyTo('/copy/data', sink);
    assert.ok(Buffer.concat(received).equals(content));
    received.length = 0;
    await driver.copyTo('/copy/data', sink, { offset: 1_000_000, end: 3_500_000 });
    assert.ok(Buffer.concat(received).equals(content.subarray(1_000_000, 3_500_001)));
    const closing = new Writable({
      write(_chunk, _encoding, callback) {
        this.destroy();
        callback();
      },
    });
    await assert.rejects(driver.copyTo('/copy/data', closing));
    await assert.rejects(driver.copyTo('/copy/missing', sink), PathNotFoundError);
  });

  it('redirects nowhere', async () => {
    assert.equal(await driver.redirectURL('/anything', 'GET'), null);
  });
});

describe('InMemoryDriver', () => {
  it('shows closed writer content at its path and commits later sessions', async () => {
    const driver: StorageDriver = new InMemoryDriver();
    const writer = await driver.writer('/up/data', false);
    await writer.write(Buffer.from('abc'));
    await assert.rejects(driver.stat('/up/data'), PathNotFoundError, 'open sessions are not visible');
    await writer.close();
    assert.equal((await driver.stat('/up/data')).size, 3);
    const resumed = await driver.writer('/up/data', true);
    await resumed.write(Buffer.from('def'));
    await resumed.commit();
    assert.equal((await driver.getContent('/up/data')).toString(), 'abcdef');
  });

  it('keeps its own copy of written chunks', async () => {
    const driver = new InMemoryDriver();
    const chunk = Buffer.from('abc');
    const writer = await driver.writer('/copy', false);
    await writer.write(chunk);
    chunk.fill(0);
    await writer.commit();
    assert.equal((await driver.getContent('/copy')).toString(), 'abc');
  });

  it('drops directories once they are empty', async () => {
    const driver = new InMemoryDriver();
    await driver.putContent('/a/b/c', Buffer.from('x'));
    await driver.putContent('/a/d', Buffer.from('x'));
    await driver.move('/a/b/c', '/a/e');
    await assert.rejects(driver.stat('/a/b'), PathNotFoundError);
    await driver.delete('/a/d');
    assert.deepEqual(await driver.list('/a'), ['/a/e']);
    await driver.delete('/a/e');
    await assert.rejects(driver.list('/'), PathNotFoundError);
  });

  it('redirects nowhere', async () => {
    assert.equal(await new InMemoryDriver().redirectURL('/anything', 'GET'), null);
  });
});
