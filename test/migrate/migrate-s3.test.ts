// `berth-registry migrate` with real parts: the CLI as a process, Berth registries, skopeo, MinIO.
// - Filesystem → S3 while pushes go on: online passes during a push loop (new images and a moving tag), then
//   the source registry is switched read-only by editing its config (no restart), a final pass with --delete,
//   and Berth started on the bucket serves every tag with the source's digests (skopeo inspect --raw and a
//   full skopeo pull, which checks every blob digest).
// - A migration killed with SIGKILL half way through (the target throttled with maxrequestspersecond) leaves
//   no object that looks complete and is not; re-run, it completes, verifies, and Berth serves the images.
// - A timing figure: a fresh, unthrottled migration of the whole corpus to MinIO.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { dump, load } from 'js-yaml';
import { S3Driver } from '../../registry/storage/s3.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { rootPrefix } from '../../registry/storage/paths.ts';
import type { MigrateSummary } from '../../registry/migrate/summary.ts';
import { startBerth } from '../harness/berth.ts';
import { removeClientState, skopeo } from '../harness/clients.ts';
import { exec } from '../harness/exec.ts';
import { startMinio, type Minio } from '../harness/minio.ts';
import { buildImage, buildTwoPlatformIndex, topBlob, writeOciLayout } from '../harness/oci-image.ts';
import { catalog, listTags } from '../harness/registry-api.ts';
import type { ConfigObject, RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import { assertPulls, rawManifest } from '../harness/verify.ts';
import { writeContent } from './corpus.ts';

const step = { timeout: 600_000 };
const bucket = 'berth-migrate';

function s3Params(minio: Minio, rootdirectory: string, extra: ConfigObject = {}): ConfigObject {
  return {
    region: minio.region,
    regionendpoint: minio.endpoint,
    forcepathstyle: true,
    secure: false,
    bucket,
    accesskey: minio.accessKey,
    secretkey: minio.secretKey,
    rootdirectory,
    chunksize: 5 * 1024 * 1024,
    ...extra,
  };
}

async function writeConfig(file: string, storage: ConfigObject): Promise<string> {
  await writeFile(file, dump({ version: 0.1, log: { level: 'warn' }, storage }));
  return file;
}

interface PassResult {
  code: number;
  summary: MigrateSummary & { error?: string };
  stderr: string;
}

/** One `node registry/cli.ts migrate ...` run, as an operator runs it. */
async function migratePass(args: string[]): Promise<PassResult> {
  const result = await exec(requireTool('node'), ['registry/cli.ts', 'migrate', ...args], {
    cwd: repoRoot,
    check: false,
    timeoutMs: 300_000,
  });
  const last = result.stdout.trim().split('\n').at(-1) ?? '';
  let summary: PassResult['summary'];
  try {
    summary = JSON.parse(last) as PassResult['summary'];
  } catch {
    throw new Error(
      `migrate printed no JSON summary (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { code: result.code, summary, stderr: result.stderr };
}

async function openUploads(minio: Minio): Promise<number> {
  const client = new S3Client({
    region: minio.region,
    endpoint: minio.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKey, secretAccessKey: minio.secretKey },
  });
  try {
    const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return res.Uploads?.length ?? 0;
  } finally {
    client.destroy();
  }
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Every object of the registry tree (no uploads) with its size. */
async function sizes(driver: S3Driver | FilesystemDriver): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    await driver.walk(rootPrefix, (info) => {
      if (!info.isDir && !info.path.includes('/_uploads/')) out.set(info.path, info.size);
    });
  } catch {
    // an empty target
  }
  return out;
}

describe('migrate filesystem → S3 while pushes continue, then read-only, then serve from S3', () => {
  let minio: Minio | undefined;
  let source: RunningRegistry | undefined;
  let onS3: RunningRegistry | undefined;
  let workDir = '';
  /** repo:tag → digest of what the source serves at the end. */
  const pushed = new Map<string, string>();

  before(async () => {
    minio = await startMinio();
    await minio.createBucket(bucket);
    workDir = await makeTempDir('migrate-s3');
    source = await startBerth();
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ source, onS3, minio });
    await Promise.allSettled([source?.stop(), onS3?.stop()]);
    await removeClientState();
    await minio?.stop();
    if (workDir !== '') await removeTempDir(workDir);
  });

  it(
    'online passes during pushes, a final read-only pass, and Berth on S3 serves every image',
    step,
    async (t) => {
      assert.ok(minio && source, 'set-up failed');
      const registry = source;
      const target = await writeConfig(path.join(workDir, 'target.yml'), { s3: s3Params(minio, '/online') });

      // The push loop: a new repository per round (image or two-platform index) and `app:latest` moved to the
      // round's image every time.
      let pushing = true;
      let rounds = 0;
      const pusher = (async () => {
        for (let i = 0; i < 18; i++) {
          const layout = path.join(workDir, `layout-${i}`);
          const content =
            i % 3 === 2
              ? buildTwoPlatformIndex({ layerBytes: 64 * 1024 })
              : buildImage({ layerBytes: (i + 1) * 200 * 1024, gzipLevel: 0 });
          await writeOciLayout(layout, { ref: content });
          const digest = topBlob(content).digest;
          for (const dest of [`mig/r${i}:v1`, 'mig/app:latest']) {
            await skopeo([
              'copy',
              '--all',
              '--preserve-digests',
              '--dest-tls-verify=false',
              `oci:${layout}:ref`,
              `docker://${registry.host}/${dest}`,
            ]);
            pushed.set(dest, digest);
          }
          rounds++;
        }
        pushing = false;
      })();

      const online: (PassResult & { duringPushes: boolean })[] = [];
      const passes = (async () => {
        // Wait for a first push, then migrate over and over while the pusher runs (at least two passes).
        while (rounds === 0) await sleep(100);
        while (pushing || online.length < 2) {
          const duringPushes = pushing;
          const pass = await migratePass(['--from', registry.configPath, '--to', target, '--quiet']);
          online.push({ ...pass, duringPushes: duringPushes && pushing });
        }
      })();
      await Promise.all([pusher, passes]);
      for (const pass of online) {
        assert.equal(pass.code, 0, `online pass failed: ${pass.summary.error ?? ''}\n${pass.stderr}`);
        assert.equal(
          pass.summary.verified.objects,
          pass.summary.sourceObjects - pass.summary.objectsVanished,
        );
      }
      const overlapping = online.filter((p) => p.duringPushes);
      t.diagnostic(
        `${online.length} online passes (${overlapping.length} entirely during pushes): ` +
          online
            .map(
              (p) =>
                `${p.summary.objectsCopied} copied/${p.summary.objectsSkipped} skipped in ${p.summary.durationMs} ms`,
            )
            .join('; '),
      );
      assert.ok(
        overlapping.some((p) => p.summary.objectsCopied > 0),
        'no pass that copied something ran entirely while pushes went on',
      );

      // Read-only, without a restart: edit the config and wait for the registry to report it.
      const config = load(await readFile(registry.configPath, 'utf8')) as {
        storage: { maintenance?: { readonly?: { enabled: boolean } } };
      };
      config.storage.maintenance = { ...config.storage.maintenance, readonly: { enabled: true } };
      await writeFile(registry.configPath, dump(config));
      await waitFor(
        'the source registry to report read-only',
        async () => {
          const res = await fetch(`${registry.url}/berth/v1/maintenance`);
          const body = (await res.json()) as { readOnly?: boolean };
          return body.readOnly === true ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

      const final = await migratePass(['--from', registry.configPath, '--to', target, '--delete']);
      assert.equal(final.code, 0, final.stderr);
      assert.match(final.stderr, /migrate: done/);
      assert.equal(final.summary.objectsVanished, 0);
      assert.equal(final.summary.verified.objects, final.summary.sourceObjects);
      t.diagnostic(
        `final read-only pass: ${final.summary.objectsCopied} copied, ${final.summary.objectsSkipped} skipped, ` +
          `${final.summary.objectsDeleted} deleted in ${final.summary.durationMs} ms`,
      );
      const again = await migratePass(['--from', registry.configPath, '--to', target, '--quiet']);
      assert.equal(again.code, 0);
      assert.equal(again.summary.objectsCopied, 0, 'a pass after the final one still copied something');
      assert.equal(again.summary.objectsExtra, 0);

      // Berth on the bucket serves everything the source serves, with the same digests.
      onS3 = await startBerth({
        config: { storage: { filesystem: undefined, s3: s3Params(minio, '/online') } },
      });
      assert.deepEqual((await catalog(onS3.url)).sort(), (await catalog(registry.url)).sort());
      const pullDir = await makeTempDir('migrate-pull');
      try {
        for (const [i, [ref, digest]] of [...pushed].entries()) {
          const [repo = '', tag = ''] = ref.split(':');
          assert.deepEqual(await listTags(onS3.url, repo), await listTags(registry.url, repo));
          const fromSource = await rawManifest(`${registry.host}/${ref}`);
          const fromS3 = await rawManifest(`${onS3.host}/${ref}`);
          assert.equal(digestOf(fromSource), digest, `${ref} on the source`);
          assert.equal(digestOf(fromS3), digest, `${ref} on S3`);
          await assertPulls(onS3, repo, tag, path.join(pullDir, String(i)));
        }
      } finally {
        await removeTempDir(pullDir);
      }
    },
  );
});

describe('migrate killed half way (SIGKILL) and restarted', () => {
  let minio: Minio | undefined;
  let onS3: RunningRegistry | undefined;
  let workDir = '';
  let sourceRoot = '';
  let fromConfig = '';
  const images: { repo: string; tag: string; digest: string }[] = [];
  let sourceSizes = new Map<string, number>();

  before(async () => {
    minio = await startMinio();
    await minio.createBucket(bucket);
    workDir = await makeTempDir('migrate-kill');
    sourceRoot = path.join(workDir, 'source');
    const driver = new FilesystemDriver({ rootDirectory: sourceRoot });
    // 40 one-layer images of 1 MiB and four of 12 MiB (multipart uploads on the target).
    for (let i = 0; i < 44; i++) {
      const image = buildImage({ layerBytes: i < 40 ? 1024 * 1024 : 12 * 1024 * 1024, gzipLevel: 0 });
      const repo = `corpus/img${i}`;
      await writeContent(driver, repo, 'v1', image);
      images.push({ repo, tag: 'v1', digest: image.manifest.digest });
    }
    sourceSizes = await sizes(driver);
    fromConfig = await writeConfig(path.join(workDir, 'from.yml'), {
      filesystem: { rootdirectory: sourceRoot },
    });
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ onS3, minio });
    await onS3?.stop();
    await removeClientState();
    await minio?.stop();
    if (workDir !== '') await removeTempDir(workDir);
  });

  it('times a full migration of the corpus to MinIO', step, async (t) => {
    assert.ok(minio);
    const to = await writeConfig(path.join(workDir, 'bench.yml'), { s3: s3Params(minio, '/bench') });
    const started = performance.now();
    const run = await migratePass(['--from', fromConfig, '--to', to, '--quiet']);
    const wallMs = Math.round(performance.now() - started);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary.objectsCopied, sourceSizes.size);
    const mib = (run.summary.bytesCopied / (1024 * 1024)).toFixed(1);
    t.diagnostic(
      `migrated ${images.length} images (${run.summary.objectsCopied} objects, ${mib} MiB) filesystem → MinIO ` +
        `in ${run.summary.durationMs} ms (process wall time ${wallMs} ms)`,
    );
    const rerun = await migratePass(['--from', fromConfig, '--to', to, '--quiet']);
    t.diagnostic(`incremental re-run with nothing to copy: ${rerun.summary.durationMs} ms`);
    assert.equal(rerun.summary.objectsCopied, 0);
  });

  it(
    'a killed migration leaves nothing half-written that looks complete; the re-run completes',
    step,
    async (t) => {
      const server = minio;
      assert.ok(server);
      const params = s3Params(server, '/killed');
      const throttled = await writeConfig(path.join(workDir, 'throttled.yml'), {
        s3: { ...params, maxrequestspersecond: 6 },
      });
      const to = await writeConfig(path.join(workDir, 'to.yml'), { s3: params });
      const target = new S3Driver({
        bucket,
        region: server.region,
        regionEndpoint: server.endpoint,
        forcePathStyle: true,
        secure: false,
        accessKey: server.accessKey,
        secretKey: server.secretKey,
        rootDirectory: '/killed',
        redirect: false,
      });
      try {
        const child = spawn(
          requireTool('node'),
          ['registry/cli.ts', 'migrate', '--from', fromConfig, '--to', throttled, '--concurrency', '4'],
          { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.stdout.resume();
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.on('exit', (code, signal) => resolve({ code, signal })),
        );
        // Kill it in the middle of a big blob's multipart upload once a part of the corpus is there (or, should
        // the polls miss every multipart window, once 150 objects are).
        await waitFor(
          'the migration to be in the middle of a multipart upload',
          async () => {
            const copied = (await sizes(target)).size;
            return (copied >= 10 && (await openUploads(server)) > 0) || copied >= 150 ? true : undefined;
          },
          {
            timeoutMs: 120_000,
            intervalMs: 50,
            abort: () => (child.exitCode !== null ? stderr : undefined),
          },
        );
        assert.ok(child.pid !== undefined);
        process.kill(child.pid, 'SIGKILL');
        const exit = await exited;
        assert.equal(
          exit.signal,
          'SIGKILL',
          `the migration was not killed: ${JSON.stringify(exit)}\n${stderr}`,
        );

        const partial = await sizes(target);
        t.diagnostic(
          `killed with ${partial.size} of ${sourceSizes.size} objects on the target and ` +
            `${await openUploads(server)} multipart upload(s) left open (invisible as objects)`,
        );
        assert.ok(partial.size < sourceSizes.size, 'the migration finished before it was killed');
        for (const [p, size] of partial) {
          assert.equal(size, sourceSizes.get(p), `${p} is on the target with another size than the source's`);
        }
        // Blobs come first: no link is on the target yet while blobs are still missing.
        const missingBlobs = [...sourceSizes.keys()].filter((p) => p.includes('/blobs/') && !partial.has(p));
        if (missingBlobs.length > 0) {
          assert.ok(
            ![...partial.keys()].some((p) => p.includes('/repositories/')),
            'links were copied before all blobs',
          );
        }

        const resumed = await migratePass(['--from', fromConfig, '--to', to]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.equal(
          resumed.summary.objectsSkipped,
          partial.size,
          'the re-run did not continue where it stopped',
        );
        assert.equal(resumed.summary.objectsCopied, sourceSizes.size - partial.size);
        assert.equal(resumed.summary.verified.objects, sourceSizes.size);
        assert.deepEqual(await sizes(target), sourceSizes);
      } finally {
        target.destroy();
      }

      onS3 = await startBerth({ config: { storage: { filesystem: undefined, s3: params } } });
      const pullDir = await makeTempDir('migrate-kill-pull');
      try {
        for (const [i, image] of images.entries()) {
          const ref: string = `${onS3.host}/${image.repo}:${image.tag}`;
          assert.equal(digestOf(await rawManifest(ref)), image.digest, ref);
          // Full pulls (every blob digest checked) of the big images and a few small ones.
          if (i % 10 === 0 || i >= 40) {
            await assertPulls(onS3, image.repo, image.tag, path.join(pullDir, String(i)));
          }
        }
      } finally {
        await removeTempDir(pullDir);
      }
    },
  );
});
