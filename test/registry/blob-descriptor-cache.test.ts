// `storage.cache.blobdescriptor: inmemory`: blob HEADs answer from memory once seen, and the cache never
// outlives a read-only window (when GC may delete behind the registry) or a DELETE through this process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../registry/config/load.ts';
import { buildRegistry, type Registry } from '../../registry/serve.ts';
import { pushBlob, sha256 } from './client.ts';

function config(root: string, readOnly: boolean, revision: string) {
  const text = [
    'version: 0.1',
    'http:',
    '  addr: 127.0.0.1:0',
    'storage:',
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '    readonly:',
    `      enabled: ${String(readOnly)}`,
  ].join('\n');
  return { config: parseConfig(text, {}).config, revision };
}

describe('blob descriptor cache', () => {
  let root = '';
  let registry: Registry | undefined;
  let url = '';

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-descriptors-'));
    registry = await buildRegistry(config(root, false, 'r1'), { logger: pino({ level: 'silent' }) });
    url = await registry.listen();
  });

  after(async () => {
    await registry?.close();
    await rm(root, { recursive: true, force: true });
  });

  const head = async (name: string, digest: string): Promise<number> =>
    (await fetch(`${url}/v2/${name}/blobs/${digest}`, { method: 'HEAD' })).status;

  /** Removes the blob from storage behind the registry's back, as a garbage collector does. */
  const sweep = (digest: string): Promise<void> =>
    rm(path.join(root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7)), {
      recursive: true,
    });

  it('answers from memory while read-write, and forgets everything when the mode changes', async () => {
    assert.ok(registry);
    const digest = await pushBlob(url, 'app', Buffer.from('cached blob'));
    assert.equal(await head('app', digest), 200);
    await sweep(digest);
    // Proof the cache is in use: storage no longer has the blob, the answer still comes from memory.
    assert.equal(await head('app', digest), 200);
    // A read-only window begins (GC may now run): the cache is emptied and not consulted.
    await registry.apply(config(root, true, 'r2'));
    assert.equal(await head('app', digest), 404);
    await registry.apply(config(root, false, 'r3'));
    assert.equal(await head('app', digest), 404, 'no stale "exists" after the window');
  });

  it('is not used while read-only, even for blobs seen then', async () => {
    assert.ok(registry);
    const digest = await pushBlob(url, 'app', Buffer.from('read-only window'));
    await registry.apply(config(root, true, 'r4'));
    assert.equal(await head('app', digest), 200);
    await sweep(digest);
    assert.equal(await head('app', digest), 404);
    await registry.apply(config(root, false, 'r5'));
    assert.equal(await head('app', digest), 404);
  });

  it('drops a repository link deleted through the API', async () => {
    const digest = await pushBlob(url, 'app', Buffer.from('deleted link'));
    assert.equal(await head('app', digest), 200);
    const deleted = await fetch(`${url}/v2/app/blobs/${digest}`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    assert.equal(await head('app', digest), 404);
  });

  it('never remembers a miss', async () => {
    const content = Buffer.from('pushed after a miss');
    const digest = sha256(content);
    assert.equal(await head('app', digest), 404);
    await pushBlob(url, 'app', content);
    assert.equal(await head('app', digest), 200);
  });
});
