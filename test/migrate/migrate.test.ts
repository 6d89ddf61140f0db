// `berth-registry migrate` in process, on corpora written straight into storage: filesystem → inmemory and
// filesystem → filesystem. Full copies, incremental re-runs, changes between runs (push, moved tag, deleted
// tag), --delete, what is left out (_uploads, heartbeats), dry runs, the copy order, verification failures,
// a copy that fails half way leaving nothing that looks complete, and the CLI's output contract.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dump } from 'js-yaml';
import { instancesRoot } from '../../registry/heartbeat.ts';
import { MigrateError } from '../../registry/migrate/errors.ts';
import { classify } from '../../registry/migrate/layout.ts';
import { migrate, type MigrateOptions } from '../../registry/migrate/migrate.ts';
import { migrateCommand } from '../../registry/migrate/command.ts';
import type { MigrateSummary } from '../../registry/migrate/summary.ts';
import type { FileWriter, StorageDriver } from '../../registry/storage/driver.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import * as paths from '../../registry/storage/paths.ts';
import { buildImage, buildTwoPlatformIndex, topBlob } from '../harness/oci-image.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { migratable, setTag, snapshot, writeContent, writeReferrer, writeUpload } from './corpus.ts';

const quick: MigrateOptions = { concurrency: 4 };

/** A driver whose methods can be intercepted; everything else goes to `inner`. */
function intercept(inner: StorageDriver, hooks: Partial<StorageDriver>): StorageDriver {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (Object.hasOwn(hooks, prop)) return (hooks as Record<string | symbol, unknown>)[prop];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface Corpus {
  source: FilesystemDriver;
  root: string;
  images: { repo: string; tag: string; digest: string }[];
}

/** Three repositories: a big-layer image, a two-platform index with a referrer, and an upload and a heartbeat. */
async function buildCorpus(root: string): Promise<Corpus> {
  const source = new FilesystemDriver({ rootDirectory: root });
  const big = buildImage({ layerBytes: 600 * 1024, gzipLevel: 0 });
  const index = buildTwoPlatformIndex({ layerBytes: 2048 });
  const small = buildImage({ format: 'docker' });
  await writeContent(source, 'team/big', 'v1', big);
  await writeContent(source, 'team/multi', 'latest', index);
  await writeContent(source, 'small', 'v1', small);
  await setTag(source, 'small', 'stable', small.manifest.digest);
  const signature = buildImage({ layerBytes: 100 });
  await writeContent(source, 'small', 'sig', signature);
  await writeReferrer(source, 'small', small.manifest.digest, signature.manifest.digest);
  await writeUpload(source, 'team/big', 'c0ffee-upload');
  await source.putContent(`${instancesRoot}/abc`, Buffer.from('{"instance":"abc"}'));
  return {
    source,
    root,
    images: [
      { repo: 'team/big', tag: 'v1', digest: big.manifest.digest },
      { repo: 'team/multi', tag: 'latest', digest: topBlob(index).digest },
      { repo: 'small', tag: 'v1', digest: small.manifest.digest },
    ],
  };
}

function assertTotals(summary: MigrateSummary): void {
  assert.equal(
    summary.objectsCopied + summary.objectsSkipped + summary.objectsVanished,
    summary.sourceObjects,
  );
  if (!summary.dryRun)
    assert.equal(summary.verified.objects, summary.sourceObjects - summary.objectsVanished);
}

describe('migrate: filesystem → inmemory', () => {
  let dir = '';
  let corpus: Corpus;
  const target = new InMemoryDriver();

  before(async () => {
    dir = await makeTempDir('migrate');
    corpus = await buildCorpus(path.join(dir, 'source'));
  });
  after(async () => {
    await removeTempDir(dir);
  });

  it('a dry run counts what the copy will do and writes nothing', async () => {
    const summary = await migrate(corpus.source, target, { ...quick, dryRun: true, deleteExtra: true });
    assert.equal(summary.dryRun, true);
    assert.ok(summary.objectsCopied > 0);
    assert.equal(summary.objectsSkipped, 0);
    assert.deepEqual(summary.verified, { objects: 0, bytes: 0 });
    assert.equal((await snapshot(target)).size, 0, 'the dry run wrote to the target');

    const real = await migrate(corpus.source, target, quick);
    assert.equal(real.objectsCopied, summary.objectsCopied);
    assert.equal(real.bytesCopied, summary.bytesCopied);
    assertTotals(real);
  });

  it('copied everything but uploads and heartbeats, byte for byte', async () => {
    const src = migratable(await snapshot(corpus.source));
    const dst = await snapshot(target);
    assert.deepEqual(dst, src);
    assert.ok(![...dst.keys()].some((p) => p.includes('_uploads')), 'an upload was copied');
    assert.ok(![...dst.keys()].some((p) => p.startsWith(instancesRoot)), 'a heartbeat was copied');
    // The corpus has every kind of object.
    const kinds = new Set([...src.keys()].map(classify));
    for (const kind of ['blob', 'layer', 'revision', 'referrer', 'tagIndex', 'tag'] as const) {
      assert.ok(kinds.has(kind), `no ${kind} in the corpus`);
    }
  });

  it('a second run copies nothing', async () => {
    const summary = await migrate(corpus.source, target, quick);
    assert.equal(summary.objectsCopied, 0);
    assert.equal(summary.bytesCopied, 0);
    assert.equal(summary.objectsSkipped, summary.sourceObjects);
    assertTotals(summary);
  });

  it('carries over a new push, a moved tag and (with --delete) a deleted tag', async () => {
    const fresh = buildImage({ layerBytes: 3000 });
    await writeContent(corpus.source, 'team/new', 'v1', fresh);
    const small = corpus.images[2];
    const big = corpus.images[0];
    assert.ok(small && big);
    // Move small:stable to the big image's manifest (same repository needs the revision: link it).
    const moved = buildImage({ format: 'docker', layerBytes: 512 });
    await writeContent(corpus.source, 'small', 'other', moved);
    await setTag(corpus.source, 'small', 'stable', moved.manifest.digest);
    await corpus.source.delete(paths.tagDir('small', 'v1'));

    const summary = await migrate(corpus.source, target, quick);
    assertTotals(summary);
    // New image: 3 blobs, 2 layer links, 1 revision, tag index + current (8); moved: 3 blobs, 2 layer links,
    // 1 revision, other index + current, stable index + current (10).
    assert.equal(summary.objectsCopied, 18);
    assert.equal(
      (await target.getContent(paths.tagCurrentLinkPath('small', 'stable'))).toString(),
      moved.manifest.digest,
    );
    // Without --delete the deleted tag stays on the target and is reported.
    assert.equal(summary.objectsExtra, 2);
    assert.equal(summary.objectsDeleted, 0);
    await target.stat(paths.tagCurrentLinkPath('small', 'v1'));

    const dry = await migrate(corpus.source, target, { ...quick, deleteExtra: true, dryRun: true });
    assert.equal(dry.objectsDeleted, 2);
    await target.stat(paths.tagCurrentLinkPath('small', 'v1'));

    const withDelete = await migrate(corpus.source, target, { ...quick, deleteExtra: true });
    assert.equal(withDelete.objectsDeleted, 2);
    assert.ok(withDelete.bytesDeleted > 0);
    assert.equal(withDelete.objectsCopied, 0);
    assertTotals(withDelete);
    assert.deepEqual(await snapshot(target), migratable(await snapshot(corpus.source)));
  });

  it('fails when the target does not verify (tampered between copy and verification)', async () => {
    const victim = paths.blobDataPath(corpus.images[0]?.digest ?? '');
    await assert.rejects(
      migrate(corpus.source, target, {
        ...quick,
        beforeVerify: async () => {
          await target.putContent(victim, Buffer.from('truncated'));
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof MigrateError);
        assert.equal(err.code, 'MIGRATE_VERIFY');
        assert.equal(err.exitCode, 1);
        assert.match(err.message, /9 bytes on the target/);
        assert.ok(err.summary, 'no summary on the error');
        return true;
      },
    );
    // An object deleted from the target is caught too, and an extra object with --delete.
    await assert.rejects(
      migrate(corpus.source, target, {
        ...quick,
        beforeVerify: async () => {
          await target.delete(paths.tagCurrentLinkPath('team/multi', 'latest'));
          await target.putContent(paths.tagCurrentLinkPath('team/multi', 'extra'), Buffer.from('x'));
        },
        deleteExtra: true,
      }),
      /missing on the target[\s\S]*not on the source/,
    );
    // The next run repairs all of it (the truncated blob was already repaired by the second run's copy).
    const repaired = await migrate(corpus.source, target, { ...quick, deleteExtra: true });
    assert.equal(repaired.objectsCopied, 1);
    assert.equal(repaired.objectsDeleted, 1);
    assert.deepEqual(await snapshot(target), migratable(await snapshot(corpus.source)));
  });
});

describe('migrate: filesystem → filesystem', () => {
  let dir = '';
  let corpus: Corpus;
  let target: FilesystemDriver;
  let targetRoot = '';

  before(async () => {
    dir = await makeTempDir('migrate-fs');
    corpus = await buildCorpus(path.join(dir, 'source'));
    targetRoot = path.join(dir, 'target');
    target = new FilesystemDriver({ rootDirectory: targetRoot });
    // A registry already running on the target has an upload in progress and a heartbeat: both are kept.
    await writeUpload(target, 'team/big', 'target-upload');
    await target.putContent(`${instancesRoot}/target-instance`, Buffer.from('{}'));
  });
  after(async () => {
    await removeTempDir(dir);
  });

  it('copies in dependency order: blobs, layer links, revisions, referrers, tag history, tags', async () => {
    const order: string[] = [];
    const recording = intercept(target, {
      putContent: async (p: string, content: Uint8Array) => {
        order.push(p);
        await target.putContent(p, content);
      },
      move: async (from: string, to: string) => {
        order.push(to);
        await target.move(from, to);
      },
    });
    const summary = await migrate(corpus.source, recording, quick);
    assertTotals(summary);
    assert.equal(order.length, summary.objectsCopied);
    const rank = ['blob', 'layer', 'other', 'revision', 'referrer', 'tagIndex', 'tag'];
    const ranks = order.map((p) => rank.indexOf(classify(p) ?? ''));
    assert.ok(!ranks.includes(-1));
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
      'objects were not copied kind by kind',
    );
    assert.deepEqual(
      migratable(await snapshot(target)),
      new Map([
        ...migratable(await snapshot(corpus.source)),
        // the target's own upload is still there
        ...[...migratable(await snapshot(target))].filter(([p]) => p.includes('/_uploads/')),
      ]),
    );
  });

  it('--delete keeps the target registry uploads and heartbeats, and removes emptied directories', async () => {
    await corpus.source.delete(paths.tagDir('small', 'stable'));
    const summary = await migrate(corpus.source, target, { ...quick, deleteExtra: true });
    assert.equal(summary.objectsDeleted, 2);
    assert.ok(
      !existsSync(path.join(targetRoot, paths.tagDir('small', 'stable'))),
      'the tag directory stayed',
    );
    await target.stat(paths.uploadDataPath('team/big', 'target-upload'));
    await target.stat(`${instancesRoot}/target-instance`);
    // The staging directory is empty or gone.
    const staging = path.join(targetRoot, '.tmp-migrate');
    assert.ok(!existsSync(staging) || (await readdir(staging)).length === 0);
  });

  it('a copy that fails half way leaves nothing that looks complete, and the next run completes', async () => {
    const layer = buildImage({ layerBytes: 3 * 1024 * 1024, gzipLevel: 0 });
    await writeContent(corpus.source, 'team/huge', 'v1', layer);
    const layerPath = paths.blobDataPath(layer.layers[0]?.digest ?? '');
    let failed = false;
    const failing = intercept(target, {
      writer: async (p: string, append: boolean): Promise<FileWriter> => {
        const inner = await target.writer(p, append);
        let written = 0;
        return {
          get size() {
            return inner.size;
          },
          write: async (chunk: Uint8Array) => {
            written += chunk.length;
            if (written > 1024 * 1024) {
              failed = true;
              throw new Error('disk on fire');
            }
            await inner.write(chunk);
          },
          close: () => inner.close(),
          commit: () => inner.commit(),
          cancel: () => inner.cancel(),
        };
      },
    });
    await assert.rejects(migrate(corpus.source, failing, quick), (err: unknown) => {
      assert.ok(err instanceof MigrateError);
      assert.equal(err.code, 'MIGRATE_FAILED');
      assert.match(err.message, /disk on fire/);
      return true;
    });
    assert.ok(failed);
    assert.ok(!existsSync(path.join(targetRoot, layerPath)), 'a partial blob is at its final path');
    // Nothing above the blob (links, tag) was copied either.
    await assert.rejects(target.stat(paths.tagCurrentLinkPath('team/huge', 'v1')));

    const summary = await migrate(corpus.source, target, quick);
    assertTotals(summary);
    assert.deepEqual(
      [...migratable(await snapshot(target))].filter(([p]) => !p.includes('/_uploads/')),
      [...migratable(await snapshot(corpus.source))],
    );
  });

  it('counts objects deleted from the source after they were listed as vanished', async () => {
    const gone = buildImage({ layerBytes: 700 });
    await writeContent(corpus.source, 'team/gone', 'v1', gone);
    const tagLink = paths.tagCurrentLinkPath('team/gone', 'v1');
    const source = intercept(corpus.source, {
      getContent: async (p: string) => {
        if (p === tagLink) await corpus.source.delete(paths.tagDir('team/gone', 'v1'));
        return corpus.source.getContent(p);
      },
    });
    const summary = await migrate(source, target, quick);
    assert.equal(summary.objectsVanished, 1);
    assertTotals(summary);
  });

  it('CLI: JSON summary on the last stdout line, progress on stderr, exit codes', async () => {
    const write = async (name: string, storage: object): Promise<string> => {
      const file = path.join(dir, name);
      await writeFile(file, dump({ version: 0.1, storage }));
      return file;
    };
    const from = await write('from.yml', { filesystem: { rootdirectory: corpus.root } });
    const to = await write('to.yml', { filesystem: { rootdirectory: path.join(dir, 'cli-target') } });
    const run = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      let stdout = '';
      let stderr = '';
      const code = await migrateCommand(args, {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
      });
      return { code, stdout, stderr };
    };
    const lastJson = (stdout: string): Record<string, unknown> =>
      JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;

    const first = await run(['--from', from, '--to', to, '--concurrency', '4']);
    assert.equal(first.code, 0, first.stderr);
    const summary = lastJson(first.stdout);
    assert.ok((summary['objectsCopied'] as number) > 0);
    assert.equal(summary['objectsCopied'], (summary['verified'] as { objects: number }).objects);
    assert.match(first.stderr, /migrate: copying blobs/);
    assert.match(first.stderr, /migrate: done/);

    const second = await run(['--from', from, '--to', to, '--quiet', '--delete']);
    assert.equal(second.code, 0);
    assert.equal(second.stderr, '');
    assert.equal(lastJson(second.stdout)['objectsCopied'], 0);

    const usage = await run(['--from', from]);
    assert.equal(usage.code, 2);
    assert.equal(lastJson(usage.stdout)['errorCode'], 'MIGRATE_USAGE');
    const same = await run(['--from', from, '--to', from]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /same storage/);
    const missing = await run(['--from', path.join(dir, 'nope.yml'), '--to', to]);
    assert.equal(missing.code, 2);
    assert.equal(lastJson(missing.stdout)['errorCode'], 'MIGRATE_CONFIG');
  });
});
