// `berth-registry migrate --from-env-prefix P --to-env-prefix P`, the real CLI as a process on real storage:
// each side's config gets its environment overrides from P<PATH> variables alone (REGISTRY_* then do not apply
// to it), as the operator's migration Job passes each side's keys.
// - filesystem → filesystem: one config file for both sides, the two root directories only in prefixed
//   variables, and a REGISTRY_ root directory that must be ignored.
// - filesystem → MinIO S3: the target's keys only in MIGRATE_TO_* variables (wrong keys in REGISTRY_*).
// - a bad prefix is a usage error naming the flag; an override error names the prefixed variable.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dump } from 'js-yaml';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { S3Driver } from '../../registry/storage/s3.ts';
import { exec } from '../harness/exec.ts';
import { startMinio, type Minio } from '../harness/minio.ts';
import { buildImage, buildTwoPlatformIndex } from '../harness/oci-image.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { migratable, snapshot, writeContent } from './corpus.ts';

const step = { timeout: 300_000 };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  summary: Record<string, unknown>;
}

/** One `node registry/cli.ts migrate ...` process with exactly `vars` (and PATH, HOME) as its environment. */
async function migrateProcess(args: string[], vars: Record<string, string>): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...vars };
  const result = await exec(requireTool('node'), ['registry/cli.ts', 'migrate', '--quiet', ...args], {
    cwd: repoRoot,
    env,
    check: false,
    timeoutMs: 240_000,
  });
  const last = result.stdout.trim().split('\n').at(-1) ?? '';
  let summary: Record<string, unknown>;
  try {
    summary = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(
      `migrate printed no JSON summary (exit ${String(result.code)}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, summary };
}

describe('migrate --from-env-prefix / --to-env-prefix (CLI process, real storage)', () => {
  let dir = '';
  let sourceRoot = '';
  let minio: Minio | undefined;
  let expected = new Map<string, string>();

  before(async () => {
    dir = await makeTempDir('migrate-env-prefix');
    sourceRoot = path.join(dir, 'source');
    const source = new FilesystemDriver({ rootDirectory: sourceRoot });
    await writeContent(source, 'team/app', 'v1', buildImage({ layerBytes: 200_000 }));
    await writeContent(source, 'team/multi', 'latest', buildTwoPlatformIndex());
    expected = migratable(await snapshot(source));
    assert.ok(expected.size > 5);
  });
  after(async () => {
    await minio?.stop();
    await removeTempDir(dir);
  });

  it(
    'filesystem → filesystem: one config for both sides, each root directory only in its prefixed variables',
    step,
    async () => {
      // Both sides name the same placeholder: only the overrides tell them apart.
      const config = path.join(dir, 'both.yml');
      await writeFile(
        config,
        dump({ version: 0.1, storage: { filesystem: { rootdirectory: '/nonexistent/placeholder' } } }),
      );
      const targetRoot = path.join(dir, 'fs-target');
      const ignoredRoot = path.join(dir, 'ignored');
      const args = [
        '--from-env-prefix',
        'MIGRATE_FROM_',
        '--to-env-prefix',
        'MIGRATE_TO_',
        '--from',
        config,
        '--to',
        config,
      ];
      const vars = {
        MIGRATE_FROM_STORAGE_FILESYSTEM_ROOTDIRECTORY: sourceRoot,
        MIGRATE_TO_STORAGE_FILESYSTEM_ROOTDIRECTORY: targetRoot,
        // Would make both sides the same storage, were it applied.
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: ignoredRoot,
      };
      const run = await migrateProcess(args, vars);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.summary['objectsCopied'], expected.size);
      assert.deepEqual(await snapshot(new FilesystemDriver({ rootDirectory: targetRoot })), expected);
      assert.equal(existsSync(ignoredRoot), false, 'REGISTRY_* applied to a side with a prefix of its own');

      // Without the prefixes, REGISTRY_* applies to both sides alike: the same storage, refused.
      const plain = await migrateProcess(['--from', config, '--to', config], vars);
      assert.equal(plain.code, 2);
      assert.match(plain.stderr, /same storage/);
    },
  );

  it('filesystem → MinIO S3: the target keys only in MIGRATE_TO_* variables', step, async (t) => {
    minio = await startMinio();
    const bucket = 'berth-env-prefix';
    await minio.createBucket(bucket);
    const from = path.join(dir, 'from.yml');
    const to = path.join(dir, 'to-s3.yml');
    await writeFile(from, dump({ version: 0.1, storage: { filesystem: { rootdirectory: sourceRoot } } }));
    const s3 = {
      region: minio.region,
      regionendpoint: minio.endpoint,
      forcepathstyle: true,
      secure: false,
      bucket,
      rootdirectory: '/prefixed',
    };
    await writeFile(to, dump({ version: 0.1, storage: { s3 } }));
    const run = await migrateProcess(
      ['--from-env-prefix', 'MIGRATE_FROM_', '--to-env-prefix', 'MIGRATE_TO_', '--from', from, '--to', to],
      {
        MIGRATE_TO_STORAGE_S3_ACCESSKEY: minio.accessKey,
        MIGRATE_TO_STORAGE_S3_SECRETKEY: minio.secretKey,
        // Wrong keys in the registry's own variables: neither side reads them (applied to the filesystem
        // source they would not even be valid).
        REGISTRY_STORAGE_S3_ACCESSKEY: 'wrong',
        REGISTRY_STORAGE_S3_SECRETKEY: 'wrong',
      },
    );
    t.diagnostic(`filesystem → S3: ${String(run.summary['objectsCopied'])} objects copied`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary['objectsCopied'], expected.size);
    assert.deepEqual(run.summary['verified'], { objects: expected.size, bytes: run.summary['sourceBytes'] });
    const target = new S3Driver({
      bucket,
      region: minio.region,
      regionEndpoint: minio.endpoint,
      forcePathStyle: true,
      secure: false,
      accessKey: minio.accessKey,
      secretKey: minio.secretKey,
      rootDirectory: '/prefixed',
      redirect: false,
    });
    try {
      assert.deepEqual(await snapshot(target), expected);
    } finally {
      (target as { destroy?: () => void }).destroy?.();
    }
  });

  it(
    'a bad prefix is a usage error naming the flag; an override error names the prefixed variable',
    step,
    async () => {
      const from = path.join(dir, 'usage.yml');
      await writeFile(from, dump({ version: 0.1, storage: { filesystem: { rootdirectory: sourceRoot } } }));
      for (const [flag, value] of [
        ['--from-env-prefix', 'migrate_'],
        ['--to-env-prefix', 'MIGRATE_TO'],
        ['--to-env-prefix', 'MIGRATE-TO_'],
        ['--from-env-prefix', ''],
      ] as const) {
        const run = await migrateProcess([flag, value, '--from', from, '--to', from], {});
        assert.equal(run.code, 2, `${flag} ${value}`);
        assert.equal(run.summary['errorCode'], 'MIGRATE_USAGE');
        assert.match(run.stderr, new RegExp(`${flag} "${value}"`));
      }
      const bad = await migrateProcess(['--to-env-prefix', 'MIGRATE_TO_', '--from', from, '--to', from], {
        MIGRATE_TO_STORAGE_FILESYSTEM_NOSUCHKEY: 'x',
      });
      assert.equal(bad.code, 2);
      assert.equal(bad.summary['errorCode'], 'MIGRATE_CONFIG');
      assert.match(bad.stderr, /MIGRATE_TO_STORAGE_FILESYSTEM_NOSUCHKEY/);
      assert.doesNotMatch(bad.stderr, /REGISTRY_STORAGE_FILESYSTEM_NOSUCHKEY/);
    },
  );
});
