// The cluster test files share one build of the Berth image, found by the digest of its inputs
// (berthImageArchive). A stale image would hide a change from every cluster test, so the inputs that are hashed
// must be exactly what `docker build` is given.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { berthImageKey, buildContext } from '../harness/cluster-images.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { repoRoot } from '../harness/tools.ts';

test('the hashed build context is the one .dockerignore lets through', async () => {
  const allowed = (await readFile(path.join(repoRoot, '.dockerignore'), 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/$/, ''));
  assert.deepEqual([...buildContext].sort(), allowed.sort());
});

test('the key is stable for the same tree', async () => {
  const [a, b] = await Promise.all([berthImageKey(), berthImageKey()]);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.equal(a, b);
});

test('a changed source file gives another key; a log file does not', async () => {
  const root = await makeTempDir('image-key');
  const write = async (file: string, content: string) => {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  };
  for (const file of ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json'])
    await write(file, file);
  await write('test/harness/cluster-images.ts', 'recipe');
  await write('image/warm-compile-cache.ts', 'warm');
  await write('registry/a.ts', 'one');
  await write('operator/b.ts', 'b');
  const first = await berthImageKey(root);
  await write('registry/deep/x.log', 'noise');
  assert.equal(await berthImageKey(root), first, 'a log file is not in the build context');
  await write('registry/a.ts', 'two');
  const second = await berthImageKey(root);
  assert.notEqual(second, first, 'an edited registry file');
  await write('operator/new.ts', 'new');
  assert.notEqual(await berthImageKey(root), second, 'a new operator file');
});
