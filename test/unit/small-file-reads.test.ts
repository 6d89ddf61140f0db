// SmallFileReads: small files on a local filesystem are read with blocking calls; larger files, network
// filesystems and the pause after a slow read go through the thread pool, with the same bytes and errors.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readWholeFile } from '../../registry/storage/read-whole-file.ts';
import {
  filesystemTypeOf,
  isLocalFilesystemType,
  SmallFileReads,
} from '../../registry/storage/small-file-reads.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { makeTempDir } from '../harness/tmp.ts';

async function files() {
  const dir = await makeTempDir('small-reads');
  const link = path.join(dir, 'link');
  const large = path.join(dir, 'large');
  const limitSized = path.join(dir, 'limit-sized');
  const largeContent = randomBytes(64 * 1024 + 7);
  await writeFile(link, 'sha256:' + 'a'.repeat(64));
  await writeFile(large, largeContent);
  await writeFile(limitSized, randomBytes(1024));
  return { dir, link, large, largeContent, limitSized };
}

test('on a local filesystem a small file is read blocking, a larger one through the pool, both whole', async () => {
  const { link, large, largeContent, limitSized } = await files();
  const reads = new SmallFileReads({ local: true, pooled: readWholeFile, blockingLimit: 1024 });
  assert.equal((await reads.read(link)).toString(), 'sha256:' + 'a'.repeat(64));
  assert.equal((await reads.read(limitSized)).length, 1024);
  assert.deepEqual({ ...reads.counts }, { blocking: 2, pooled: 0, slow: 0 });
  assert.deepEqual(await reads.read(large), largeContent);
  assert.deepEqual({ ...reads.counts }, { blocking: 2, pooled: 1, slow: 0 });
});

test('each blocking read returns its own bytes, not a view of a shared buffer', async () => {
  const { dir, link } = await files();
  const other = path.join(dir, 'other');
  await writeFile(other, 'sha256:' + 'b'.repeat(64));
  const reads = new SmallFileReads({ local: true, pooled: readWholeFile });
  const first = await reads.read(link);
  await reads.read(other);
  assert.equal(first.toString(), 'sha256:' + 'a'.repeat(64));
  // Nor a slice of Buffer's shared pool, whose slab would live as long as any link cut from it.
  assert.equal(first.buffer.byteLength, first.length);
  assert.equal(first.byteOffset, 0);
});

test('a missing file rejects with ENOENT, as through the pool', async () => {
  const { dir } = await files();
  const missing = path.join(dir, 'missing', 'link');
  const blocking = new SmallFileReads({ local: true, pooled: readWholeFile });
  const pooled = new SmallFileReads({ local: false, pooled: readWholeFile });
  await assert.rejects(blocking.read(missing), { code: 'ENOENT' });
  await assert.rejects(pooled.read(missing), { code: 'ENOENT' });
  assert.equal(blocking.counts.pooled, 0);
  assert.equal(pooled.counts.pooled, 1);
});

test('not on a local filesystem, every read goes through the pool', async () => {
  const { link } = await files();
  const reads = new SmallFileReads({ local: false, pooled: readWholeFile });
  await reads.read(link);
  await reads.read(link);
  assert.deepEqual({ ...reads.counts }, { blocking: 0, pooled: 2, slow: 0 });
});

test('a slow blocking read sends reads through the pool for the pause, then blocking reads resume', async () => {
  const { link } = await files();
  // The clock advances by `step` at every reading: with step 50, the read between two readings takes 50 ms.
  let clock = 0;
  let step = 0;
  const now = () => (clock += step);
  const reads = new SmallFileReads({ local: true, pooled: readWholeFile, slowMs: 5, pauseMs: 1000, now });
  await reads.read(link);
  assert.deepEqual({ ...reads.counts }, { blocking: 1, pooled: 0, slow: 0 });
  step = 50;
  assert.equal((await reads.read(link)).toString(), 'sha256:' + 'a'.repeat(64), 'a slow read still returns');
  step = 0;
  assert.deepEqual({ ...reads.counts }, { blocking: 2, pooled: 0, slow: 1 });
  assert.equal(reads.blockingAllowed, false);
  await reads.read(link);
  assert.deepEqual({ ...reads.counts }, { blocking: 2, pooled: 1, slow: 1 }, 'paused: through the pool');
  clock += 1000;
  assert.equal(reads.blockingAllowed, true);
  await reads.read(link);
  assert.deepEqual(
    { ...reads.counts },
    { blocking: 3, pooled: 1, slow: 1 },
    'after the pause: blocking again',
  );
});

test('filesystem types: the temp dir (ext4 or tmpfs here) is local; NFS, SMB and FUSE are not', async () => {
  const { dir } = await files();
  const type = filesystemTypeOf(path.join(dir, 'not', 'yet', 'created'));
  assert.notEqual(type, null);
  assert.equal(isLocalFilesystemType(type ?? 0), true, `type 0x${(type ?? 0).toString(16)}`);
  for (const remote of [0x6969, 0xff534d42, 0xfe534d42, 0x65735546, 0x00c36400]) {
    assert.equal(isLocalFilesystemType(remote), false, `0x${remote.toString(16)}`);
  }
});

test('the filesystem driver reads links blocking on a local root and serves the same bytes', async () => {
  const { dir } = await files();
  const driver = new FilesystemDriver({ rootDirectory: dir });
  await driver.putContent(
    '/docker/registry/v2/repositories/r/_manifests/tags/t/current/link',
    Buffer.from('x'),
  );
  const content = await driver.getContent(
    '/docker/registry/v2/repositories/r/_manifests/tags/t/current/link',
  );
  assert.equal(content.toString(), 'x');
  assert.equal(driver.smallFileReads.local, true);
  assert.equal(driver.smallFileReads.counts.blocking, 1);
});
