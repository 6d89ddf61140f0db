// readWholeFile: one read for small files, more for large ones; the bytes are the file's whatever its size,
// errors carry the system's code, and no descriptor is left open.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readWholeFile } from '../../registry/storage/read-whole-file.ts';
import { makeTempDir } from '../harness/tmp.ts';

const openDescriptors = () => readdirSync('/proc/self/fd').length;
/** readWholeFile does not wait for close(): give the last one its turn. */
const closesSettled = () => new Promise((resolve) => setTimeout(resolve, 50));

test('files of every size around the first read come back byte for byte', async () => {
  const dir = await makeTempDir('read-whole');
  const before = openDescriptors();
  for (const size of [0, 1, 71, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 32 * 1024, 100_000, (1 << 20) + 3]) {
    const file = path.join(dir, `f${size}`);
    const content = randomBytes(size);
    await writeFile(file, content);
    const read = await readWholeFile(file);
    assert.equal(read.length, size, `size ${size}`);
    assert.ok(read.equals(content), `content of ${size} bytes`);
  }
  await closesSettled();
  assert.equal(openDescriptors(), before, 'every descriptor closed');
});

test('a missing file, a directory and a file under a file fail with their codes, leaking nothing', async () => {
  const dir = await makeTempDir('read-whole-errors');
  await mkdir(path.join(dir, 'sub'));
  await writeFile(path.join(dir, 'plain'), 'x');
  const before = openDescriptors();
  await assert.rejects(readWholeFile(path.join(dir, 'missing')), { code: 'ENOENT' });
  await assert.rejects(readWholeFile(path.join(dir, 'sub')), { code: 'EISDIR' });
  await assert.rejects(readWholeFile(path.join(dir, 'plain', 'child')), { code: 'ENOTDIR' });
  await closesSettled();
  assert.equal(openDescriptors(), before, 'every descriptor closed');
});
