// Garbage collection over the filesystem driver, on a corpus pushed through Berth's HTTP API, with the
// registry app still running on the same root so every check after a collection is what a client sees:
// kept images fully fetchable, swept blobs and deleted manifests 404 (no stale "exists"), dry runs exact,
// the live-registry guard, and the CLI's output contract.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { exec } from '../harness/exec.ts';
import { removeTempDir } from '../harness/tmp.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { pushBlob } from '../registry/client.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { InMemoryDriver } from '../../registry/storage/inmemory.ts';
import { BlobStore } from '../../registry/store/blob-store.ts';
import { ManifestStore } from '../../registry/store/manifests.ts';
import { Repository } from '../../registry/store/repository.ts';
import { HeartbeatWriter, instancesRoot } from '../../registry/heartbeat.ts';
import { garbageCollect } from '../../registry/gc/gc.ts';
import { garbageCollectCommand } from '../../registry/gc/command.ts';
import { GcError } from '../../registry/gc/errors.ts';
import { assertNoLiveWriter } from '../../registry/gc/guard.ts';
import type { GcDeletion, GcPhase, GcSummary } from '../../registry/gc/summary.ts';
import * as paths from '../../registry/storage/paths.ts';
import {
  berthKeeps,
  CorpusBuilder,
  fastTempDir,
  minus,
  readRootState,
  type Descriptor,
  type RootState,
} from './corpus.ts';

const silent = pino({ level: 'silent' });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The JSON object on the last line of stdout. */
  summary: GcSummary & { error?: string; errorCode?: string };
}

async function runCommand(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await garbageCollectCommand(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  const lines = stdout.trimEnd().split('\n');
  let summary: Run['summary'];
  try {
    summary = JSON.parse(lines[lines.length - 1] ?? '') as Run['summary'];
  } catch {
    summary = { error: 'no JSON summary' } as Run['summary'];
  }
  return { code, stdout, stderr, summary };
}

/** Every file under root with its size: a dry run must leave this unchanged. */
async function snapshot(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.set(path.relative(root, full), (await stat(full)).size);
    }
  };
  await walk(root);
  return files;
}

function key(item: GcDeletion): string {
  return item.kind === 'blob'
    ? `blob ${item.digest} ${item.size}`
    : `${item.kind} ${item.repository} ${item.digest}`;
}

async function collect(
  root: string,
  options: { deleteUntagged: boolean; dryRun: boolean },
): Promise<{ summary: GcSummary; deleted: string[]; phases: GcPhase[] }> {
  const deleted: string[] = [];
  const phases: GcPhase[] = [];
  const summary = await garbageCollect(new FilesystemDriver({ rootDirectory: root }), {
    ...options,
    concurrency: 4,
    onDelete: (item) => deleted.push(key(item)),
    onProgress: (p) => {
      if (phases[phases.length - 1] !== p.phase) phases.push(p.phase);
    },
  });
  return { summary, deleted: deleted.sort(), phases };
}

function counts(summary: GcSummary): Omit<GcSummary, 'durationMs' | 'dryRun'> {
  const { durationMs: _d, dryRun: _r, ...rest } = summary;
  return rest;
}

async function status(url: string, method = 'GET'): Promise<number> {
  const res = await fetch(url, { method });
  await res.arrayBuffer();
  return res.status;
}

describe('garbage collection', { timeout: 120_000 }, () => {
  let work: string;
  let registry: TestRegistry;
  let corpus: CorpusBuilder;
  let root: string;
  let configPath: string;
  /** Every (repository, blob) link ever made: swept blobs must 404 in each of these repositories. */
  let linksBefore: RootState;
  const d: Record<string, Descriptor> = {};

  before(async () => {
    work = await fastTempDir('gc');
    root = path.join(work, 'root');
    registry = await startTestRegistry({ root });
    corpus = new CorpusBuilder(registry.url);
    const c = corpus;
    const base = c.unique('shared-base', 512);
    // Layers shared across repositories.
    d['a'] = await c.image('shared/a', 'v1', { layers: [base, c.unique('a')] });
    d['b'] = await c.image('shared/b', 'v1', { layers: [base, c.unique('b')] });
    d['deep'] = await c.image('nested/deep/repo', 'v1', { layers: [base] });
    // One repository with every case.
    d['v1'] = await c.image('app', 'v1', { layers: [base, c.unique('v1')] });
    d['latestOld'] = await c.image('app', 'latest', { layers: [c.unique('latest-old')] });
    d['latest'] = await c.image('app', 'latest', { layers: [base, c.unique('latest-new')] });
    d['old'] = await c.image('app', 'old', { layers: [c.unique('old')] });
    await c.deleteTag('app', 'old');
    d['untagged'] = await c.image('app', null, { layers: [c.unique('untagged')] });
    d['amd64'] = await c.image('app', null, { layers: [base, c.unique('amd64')] });
    d['arm64'] = await c.image('app', null, { layers: [c.unique('arm64')] });
    d['multi'] = await c.index('app', 'multi', [d['amd64'], d['arm64']]);
    const sig = { artifactType: 'application/vnd.example.sig', emptyConfig: true };
    d['sig'] = await c.image('app', null, { ...sig, layers: [c.unique('sig')], subject: d['v1'] });
    d['sigOfSig'] = await c.image('app', null, { ...sig, layers: [c.unique('sig2')], subject: d['sig'] });
    d['sigOfUntagged'] = await c.image('app', null, {
      ...sig,
      layers: [c.unique('sig3')],
      subject: d['untagged'],
    });
    d['deleted'] = await c.image('app', 'tmp', { layers: [c.unique('deleted')] });
    await c.deleteManifest('app', d['deleted'].digest);
    d['orphan'] = await c.blob('app', c.unique('orphan'));
    // A repository with manifests and no tags at all.
    d['ghost'] = await c.image('ghost', null, { layers: [c.unique('ghost')] });
    linksBefore = await readRootState(root);
    configPath = path.join(work, 'config.yml');
    await writeFile(configPath, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`);
  });

  after(async () => {
    await registry.close();
    await removeTempDir(work);
  });

  /** Checks the running registry serves every kept manifest and blob, and 404s everything swept. */
  async function assertServedAsModel(deleteUntagged: boolean): Promise<void> {
    const kept = berthKeeps(corpus, deleteUntagged);
    const state = await readRootState(root);
    assert.deepEqual([...state.revisions].sort(), [...kept.revisions].sort(), 'revisions');
    assert.deepEqual([...state.blobs].sort(), [...kept.blobs].sort(), 'blobs');
    for (const [repo, tags] of corpus.tags) {
      for (const [tag, digest] of tags) {
        const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
          headers: { Accept: '*/*' },
        });
        assert.equal(res.status, 200, `${repo}:${tag}`);
        assert.equal(res.headers.get('docker-content-digest'), digest);
        await res.arrayBuffer();
      }
    }
    for (const revision of kept.revisions) {
      const m = corpus.manifests.get(revision);
      assert.ok(m);
      const res = await fetch(`${registry.url}/v2/${m.repo}/manifests/${m.digest}`, {
        headers: { Accept: '*/*' },
      });
      assert.equal(res.status, 200, revision);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), m.bytes);
      for (const ref of m.refs) {
        if (corpus.manifests.has(`${m.repo}@${ref}`)) continue; // a child manifest, checked on its own
        const blob = await fetch(`${registry.url}/v2/${m.repo}/blobs/${ref}`);
        assert.equal(blob.status, 200, `${m.repo} blob ${ref}`);
        const body = Buffer.from(await blob.arrayBuffer());
        assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, ref);
      }
    }
    // Deleted manifests and swept blobs: 404 through the API, in every repository that linked them.
    for (const revision of minus(linksBefore.revisions, kept.revisions)) {
      const [repo, digest] = revision.split('@');
      assert.equal(await status(`${registry.url}/v2/${repo}/manifests/${digest}`), 404, revision);
    }
    for (const link of linksBefore.layerLinks) {
      const [repo = '', digest = ''] = link.split('->');
      if (state.blobs.has(digest)) continue;
      assert.equal(await status(`${registry.url}/v2/${repo}/blobs/${digest}`, 'HEAD'), 404, `HEAD ${link}`);
      assert.equal(await status(`${registry.url}/v2/${repo}/blobs/${digest}`), 404, `GET ${link}`);
      // A mount of a swept blob must not answer "created" (the blob exists): it starts an upload instead.
      assert.equal(
        await status(`${registry.url}/v2/mounted/blobs/uploads/?mount=${digest}&from=${repo}`, 'POST'),
        202,
        `mount ${link}`,
      );
    }
  }

  it('without --delete-untagged: a dry run reports exactly what the run deletes, which is unreferenced blobs', async () => {
    const before = await snapshot(root);
    const dry = await collect(root, { deleteUntagged: false, dryRun: true });
    assert.deepEqual(await snapshot(root), before, 'a dry run changes nothing');
    assert.equal(dry.summary.dryRun, true);
    const real = await collect(root, { deleteUntagged: false, dryRun: false });
    assert.deepEqual(real.deleted, dry.deleted);
    assert.deepEqual(counts(real.summary), counts(dry.summary));
    assert.deepEqual(real.phases, ['mark', 'delete-manifests', 'delete-layer-links', 'sweep-blobs', 'done']);
    assert.equal(real.summary.manifestsDeleted, 0);
    // The orphan blob and the blobs only the API-deleted manifest used are gone.
    assert.ok(real.deleted.some((x) => x.startsWith(`blob ${d['orphan']?.digest}`)));
    assert.ok(real.deleted.includes(`blob ${d['deleted']?.digest} ${d['deleted']?.size}`));
    assert.ok(real.deleted.includes(`layerLink app ${d['orphan']?.digest}`));
    assert.equal(
      real.summary.bytesFreed,
      [...real.deleted].filter((x) => x.startsWith('blob')).reduce((n, x) => n + Number(x.split(' ')[2]), 0),
    );
    await assertServedAsModel(false);
    // Nothing left to do.
    const again = await collect(root, { deleteUntagged: false, dryRun: false });
    assert.deepEqual(again.deleted, []);
  });

  it('--delete-untagged dry run reports exactly what the run deletes and deletes nothing', async () => {
    const before = await snapshot(root);
    const dry = await collect(root, { deleteUntagged: true, dryRun: true });
    assert.deepEqual(await snapshot(root), before, 'a dry run changes nothing');
    const real = await collect(root, { deleteUntagged: true, dryRun: false });
    assert.deepEqual(real.deleted, dry.deleted);
    assert.deepEqual(counts(real.summary), counts(dry.summary));
    assert.ok(real.summary.manifestsDeleted > 0);
  });

  it('--delete-untagged keeps tagged images, index children and referrers of kept manifests', async () => {
    const state = await readRootState(root);
    const has = (name: string, repo = 'app'): boolean => state.revisions.has(`${repo}@${d[name]?.digest}`);
    for (const name of ['v1', 'latest', 'multi', 'amd64', 'arm64', 'sig', 'sigOfSig'])
      assert.ok(has(name), name);
    for (const name of ['latestOld', 'old', 'untagged', 'sigOfUntagged']) assert.ok(!has(name), name);
    assert.ok(!has('ghost', 'ghost'));
    // The overwritten tag's history no longer names the deleted revision.
    assert.ok(!state.tagHistory.has(`app:latest@${d['latestOld']?.digest}`));
    assert.ok(state.tagHistory.has(`app:latest@${d['latest']?.digest}`));
    // Berth's referrers index: the deleted referrer's entry is gone, the kept ones remain.
    const referrers = async (subject: string): Promise<string[]> => {
      const res = await fetch(`${registry.url}/v2/app/referrers/${subject}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { manifests: { digest: string }[] };
      return body.manifests.map((m) => m.digest);
    };
    assert.deepEqual(await referrers(d['v1']?.digest ?? ''), [d['sig']?.digest]);
    assert.deepEqual(await referrers(d['sig']?.digest ?? ''), [d['sigOfSig']?.digest]);
    assert.deepEqual(await referrers(d['untagged']?.digest ?? ''), []);
    const untaggedReferrers = path.join(
      root,
      'docker/registry/v2/repositories/app/_referrers/sha256',
      (d['untagged']?.digest ?? '').slice(7),
    );
    assert.deepEqual(
      existsSync(untaggedReferrers) ? await readdir(path.join(untaggedReferrers, 'sha256')) : [],
      [],
    );
    await assertServedAsModel(true);
  });

  it('a swept blob can be pushed again and is then served', async () => {
    const content = corpus.blobs.get(d['orphan']?.digest ?? '');
    assert.ok(content);
    await pushBlob(registry.url, 'app', content);
    assert.equal(await status(`${registry.url}/v2/app/blobs/${d['orphan']?.digest}`, 'HEAD'), 200);
  });

  it('a multi-platform image still pulls with skopeo after GC', async () => {
    const host = new URL(registry.url).host;
    const dest = path.join(work, 'pulled');
    await exec(
      '/usr/bin/skopeo',
      ['copy', '--all', '--src-tls-verify=false', `docker://${host}/app:multi`, `dir:${dest}`],
      {
        timeoutMs: 60_000,
        env: { ...process.env, HOME: work },
      },
    );
    const files = await readdir(dest);
    for (const name of ['amd64', 'arm64'])
      assert.ok(files.includes(`${(d[name]?.digest ?? '').slice(7)}.manifest.json`), name);
  });

  describe('the command', () => {
    it('prints per-item lines, progress on stderr, and the JSON summary last', async () => {
      await pushBlob(registry.url, 'app', corpus.unique('cli-orphan'));
      const run = await runCommand(['--dry-run', configPath]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^blob eligible for deletion: sha256:[a-f0-9]{64} \(\d+ bytes\)$/m);
      assert.match(run.stderr, /garbage-collect: marking/);
      assert.match(run.stderr, /a CNCF Distribution registry cannot be detected/);
      assert.equal(run.summary.dryRun, true);
      const eligible = run.stdout.split('\n').filter((l) => l.startsWith('blob eligible')).length;
      assert.ok(eligible >= 1);
      assert.equal(run.summary.blobsDeleted, eligible);
      const quiet = await runCommand(['-q', '-m', configPath]);
      assert.equal(quiet.code, 0);
      assert.equal(quiet.stdout.trim().split('\n').length, 1, 'only the summary');
      assert.equal(quiet.stderr, '');
      assert.equal(quiet.summary.blobsDeleted, eligible);
      assert.equal(quiet.summary.dryRun, false);
      for (const field of [
        'manifestsMarked',
        'blobsMarked',
        'manifestsDeleted',
        'bytesFreed',
        'durationMs',
      ] as const) {
        assert.equal(typeof quiet.summary[field], 'number', field);
      }
    });

    it('deletes the same things from worker threads as from one thread', async () => {
      await pushBlob(registry.url, 'app', corpus.unique('workers-orphan-1'));
      await pushBlob(registry.url, 'other', corpus.unique('workers-orphan-2'));
      const lines = (run: Run): string[] =>
        run.stdout
          .trimEnd()
          .split('\n')
          .slice(0, -1)
          .map((line) => line.replace(' eligible for deletion:', ' deleted:'))
          .sort();
      const single = await runCommand(['--dry-run', '-m', '--workers', '0', configPath]);
      const pooled = await runCommand(['--dry-run', '-m', '--workers', '3', configPath]);
      assert.equal(single.code, 0, single.stderr);
      assert.equal(pooled.code, 0, pooled.stderr);
      assert.match(single.stderr, /workers=0/);
      assert.match(pooled.stderr, /workers=3/);
      assert.ok(lines(single).length >= 2, single.stdout);
      assert.deepEqual(lines(pooled), lines(single));
      assert.deepEqual(counts(pooled.summary), counts(single.summary));
      const real = await runCommand(['-m', '--workers', '3', configPath]);
      assert.equal(real.code, 0, real.stderr);
      assert.deepEqual(lines(real), lines(single));
      assert.equal((await runCommand(['--workers', 'x', configPath])).code, 2);
      assert.equal((await runCommand(['--workers', '65', configPath])).code, 2);
    });

    it('rejects bad usage and a bad config with exit code 2', async () => {
      assert.equal((await runCommand([])).code, 2);
      assert.equal((await runCommand(['--bogus', configPath])).code, 2);
      assert.equal((await runCommand(['a.yml', 'b.yml'])).code, 2);
      const missing = await runCommand([path.join(work, 'missing.yml')]);
      assert.equal(missing.code, 2);
      assert.equal(missing.summary.errorCode, 'GC_CONFIG');
      assert.equal((await runCommand(['--help'])).code, 0);
    });

    it('fails with exit code 1 and deletes nothing when a manifest cannot be read', async () => {
      const driver = new FilesystemDriver({ rootDirectory: root });
      const bad = Buffer.from('this is not json');
      const digest = `sha256:${createHash('sha256').update(bad).digest('hex')}`;
      await driver.putContent(paths.blobDataPath(digest), bad);
      await driver.putContent(paths.manifestRevisionLinkPath('broken', digest), Buffer.from(digest));
      const orphan = await pushBlob(registry.url, 'app', corpus.unique('kept-because-failed'));
      const run = await runCommand(['-m', configPath]);
      assert.equal(run.code, 1);
      assert.equal(run.summary.errorCode, 'GC_MANIFEST_UNREADABLE');
      assert.match(run.stderr, /broken@sha256:/);
      assert.equal(run.summary.blobsDeleted, 0);
      assert.equal(await status(`${registry.url}/v2/app/blobs/${orphan}`, 'HEAD'), 200);
      await driver.delete(paths.repositoryPath('broken'));
      await driver.delete(paths.blobDir(digest));
    });
  });

  describe('the live-registry guard', () => {
    const driver = (): FilesystemDriver => new FilesystemDriver({ rootDirectory: root });
    let readOnlyConfig: string;

    before(async () => {
      readOnlyConfig = path.join(work, 'config-ro.yml');
      await writeFile(
        readOnlyConfig,
        `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  maintenance:\n    readonly:\n      enabled: true\n`,
      );
    });

    async function withHeartbeat<T>(
      readOnly: boolean,
      fn: (writer: HeartbeatWriter) => Promise<T>,
    ): Promise<T> {
      const writer = new HeartbeatWriter(driver(), () => ({ readOnly, revision: 'rev-test' }), silent);
      await writer.start();
      try {
        return await fn(writer);
      } finally {
        await writer.stop();
      }
    }

    async function orphan(): Promise<string> {
      return pushBlob(registry.url, 'app', corpus.unique('guard-orphan'));
    }

    it('refuses (exit 3) while a registry serves the storage read-write, naming it, and deletes nothing', async () => {
      const blob = await orphan();
      await withHeartbeat(false, async (writer) => {
        for (const config of [configPath, readOnlyConfig]) {
          const run = await runCommand(['-m', config]);
          assert.equal(run.code, 3, run.stderr);
          assert.equal(run.summary.errorCode, 'GC_LIVE_REGISTRY');
          assert.match(run.stderr, new RegExp(writer.instance));
          assert.match(run.stderr, new RegExp(`pid ${process.pid}`));
          assert.match(run.stderr, /READ-WRITE/);
          assert.match(run.stderr, /readonly\.enabled: true/);
        }
      });
      assert.equal(await status(`${registry.url}/v2/app/blobs/${blob}`, 'HEAD'), 200);
    });

    it('runs when every live registry is read-only and the config is read-only too', async () => {
      const blob = await orphan();
      await withHeartbeat(true, async () => {
        const refused = await runCommand([configPath]);
        assert.equal(refused.code, 3, 'a read-write config while registries are live is refused');
        assert.match(refused.stderr, /does not have storage\.maintenance\.readonly\.enabled=true/);
        const run = await runCommand([readOnlyConfig]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /all read-only/);
        assert.ok(run.summary.blobsDeleted >= 1);
      });
      assert.equal(await status(`${registry.url}/v2/app/blobs/${blob}`, 'HEAD'), 404);
    });

    it('ignores a stale heartbeat', async () => {
      const id = randomUUID();
      const stale = {
        instance: id,
        readOnly: false,
        revision: 'old',
        updatedAt: new Date(Date.now() - 120_000).toISOString(),
        pid: 1,
        hostname: 'gone',
      };
      await mkdir(path.join(root, instancesRoot), { recursive: true });
      await writeFile(path.join(root, instancesRoot, id), JSON.stringify(stale));
      const run = await runCommand([configPath]);
      assert.equal(run.code, 0, run.stderr);
      await driver().delete(`${instancesRoot}/${id}`);
    });

    it('--force-live collects anyway, with a warning', async () => {
      await withHeartbeat(false, async () => {
        const run = await runCommand(['--force-live', configPath]);
        assert.equal(run.code, 0);
        assert.match(run.stderr, /WARNING: --force-live/);
      });
    });

    it('re-checks before the first deletion: a registry that turns read-write during marking stops the run', async () => {
      const blob = await orphan();
      const fs = driver();
      const id = randomUUID();
      const record = path.join(root, instancesRoot, id);
      await assert.rejects(
        garbageCollect(fs, {
          deleteUntagged: true,
          onProgress: (p) => {
            // A replica comes up read-write while the collector is marking.
            if (p.phase === 'mark' && !existsSync(record)) {
              mkdirSync(path.dirname(record), { recursive: true });
              writeFileSync(
                record,
                JSON.stringify({
                  instance: id,
                  readOnly: false,
                  revision: 'r',
                  updatedAt: new Date().toISOString(),
                  pid: 4242,
                  hostname: 'replica-2',
                }),
              );
            }
          },
          beforeSweep: () => assertNoLiveWriter(fs, true),
        }),
        (err: unknown) =>
          err instanceof GcError &&
          err.code === 'GC_LIVE_REGISTRY' &&
          /replica-2, pid 4242/.test(err.message) &&
          err.summary?.blobsDeleted === 0,
      );
      await fs.delete(`${instancesRoot}/${id}`);
      assert.equal(await status(`${registry.url}/v2/app/blobs/${blob}`, 'HEAD'), 200);
    });
  });
});

describe('garbage collection through another driver', () => {
  it('collects an in-memory store written by the content store classes', async () => {
    const driver = new InMemoryDriver();
    const blobs = new BlobStore(driver);
    const manifests = new ManifestStore(blobs);
    const repo = new Repository(driver, 'mem/app');
    const put = async (content: Buffer): Promise<string> => {
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
      await blobs.putContent(digest, content);
      await repo.linkLayer(digest);
      return digest;
    };
    const config = await put(Buffer.from('{}'));
    const layer = await put(Buffer.from('layer'));
    const orphan = await put(Buffer.from('orphan'));
    const image = (layers: string[]): Buffer =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
          layers: layers.map((digest) => ({
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest,
            size: 5,
          })),
        }),
      );
    const kept = await manifests.put(repo, { tag: 'v1' }, image([layer]), undefined);
    const gone = await manifests.put(repo, {}, image([]), undefined);
    const summary = await garbageCollect(driver, { deleteUntagged: true });
    assert.equal(summary.manifestsDeleted, 1);
    assert.equal(summary.blobsDeleted, 2, 'the orphan and the untagged manifest');
    assert.equal(await blobs.size(orphan), null);
    assert.equal(await blobs.size(gone.digest), null);
    assert.ok(await repo.hasManifest(kept.digest));
    assert.ok(!(await repo.hasManifest(gone.digest)));
    assert.ok(!(await repo.hasLayer(orphan)));
    assert.ok(await repo.hasLayer(layer));
  });
});
