// CoalescedReads: callers that ask together share one read; a caller that asks once a read has started gets a
// read of its own, so it sees every write that finished before it asked.
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { CoalescedReads } from '../../registry/storage/coalesced-reads.ts';
import { readWholeFile } from '../../registry/storage/read-whole-file.ts';
import { makeTempDir } from '../harness/tmp.ts';

function counting() {
  const calls: string[] = [];
  const read = (file: string) => {
    calls.push(file);
    return readWholeFile(file);
  };
  return { calls, read };
}

/** Replaces the file as the filesystem driver does: a new file renamed over the old one. */
async function replace(file: string, content: string): Promise<void> {
  await writeFile(`${file}.new`, content);
  await rename(`${file}.new`, file);
}

test('callers in the same turn of the event loop share one read; other paths are read apart', async () => {
  const dir = await makeTempDir('coalesce');
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  await writeFile(a, 'sha256:aaaa');
  await writeFile(b, 'sha256:bbbb');
  const reads = new CoalescedReads();
  const { calls, read } = counting();
  const results = await Promise.all([
    ...Array.from({ length: 20 }, () => reads.read(a, read)),
    reads.read(b, read),
    reads.read(b, read),
  ]);
  assert.deepEqual(calls.sort(), [a, b]);
  assert.deepEqual(
    results.map((r) => r.toString()),
    [...Array.from({ length: 20 }, () => 'sha256:aaaa'), 'sha256:bbbb', 'sha256:bbbb'],
  );
});

test('a caller that asks after the read started gets its own read and sees a write finished before it asked', async () => {
  const dir = await makeTempDir('coalesce-order');
  const link = path.join(dir, 'link');
  await replace(link, 'sha256:old');
  const reads = new CoalescedReads();
  let started!: () => void;
  const startedOnce = new Promise<void>((resolve) => (started = resolve));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // The first read opens the file, then waits: it is in flight while the write below lands.
  const first = reads.read(link, async (file) => {
    const bytes = await readWholeFile(file);
    started();
    await held;
    return bytes;
  });
  await startedOnce;
  await replace(link, 'sha256:new');
  const second = reads.read(link, readWholeFile);
  release();
  assert.equal((await first).toString(), 'sha256:old', 'the first read began before the write');
  assert.equal((await second).toString(), 'sha256:new', 'the second caller asked after the write');
});

test('a failed read fails every caller that shared it, and the next caller reads again', async () => {
  const dir = await makeTempDir('coalesce-error');
  const missing = path.join(dir, 'missing');
  const reads = new CoalescedReads();
  const { calls, read } = counting();
  const outcomes = await Promise.allSettled([reads.read(missing, read), reads.read(missing, read)]);
  for (const o of outcomes) {
    assert.equal(o.status, 'rejected');
    assert.equal((o.reason as NodeJS.ErrnoException).code, 'ENOENT');
  }
  assert.equal(calls.length, 1);
  await writeFile(missing, 'now here');
  assert.equal((await reads.read(missing, read)).toString(), 'now here');
  assert.equal(calls.length, 2);
});
