// The S3-specific measurements of `node bench/s3.ts` that bench/blob-pull.ts and bench/gc.ts do not cover:
// a pull that follows the registry's 307 to a presigned MinIO URL, and one garbage-collect run on a bucket.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { exec } from '../test/harness/exec.ts';
import type { Minio } from '../test/harness/minio.ts';
import type { RegistryKind } from '../test/harness/registry.ts';
import { registryNodeFlags, repoRoot, tools } from '../test/harness/tools.ts';
import { dump } from 'js-yaml';
import type { BlobFile } from './blob-file.ts';
import type { BenchClient } from './http-client.ts';
import { childEnv, s3Storage } from './s3-store.ts';
import { benchTools } from './tools.ts';

export interface RedirectPullResult {
  seconds: number;
  bytes: number;
  /** Of the total: the registry's answer up to the 307 (curl's time_redirect). */
  redirectSeconds: number;
}

/**
 * Timed with curl --location in its own process (as bench/blob-pull.ts times the proxied pull): the
 * registry answers 307, curl follows it to MinIO. Exactly one redirect must have happened.
 */
export async function pullRedirected(
  client: BenchClient,
  repo: string,
  blob: BlobFile,
): Promise<RedirectPullResult> {
  const url = client.url(`/v2/${repo}/blobs/${blob.digest}`).toString();
  const { stdout } = await exec(benchTools.curl, [
    '--silent',
    '--show-error',
    '--location',
    '--output',
    '/dev/null',
    '--write-out',
    '%{http_code} %{size_download} %{time_total} %{num_redirects} %{time_redirect}',
    url,
  ]);
  const [status, bytes, total, redirects, redirect] = stdout.trim().split(' ').map(Number);
  if (status !== 200) throw new Error(`curl -L GET ${url}: HTTP ${status}`);
  if (redirects !== 1) throw new Error(`curl -L GET ${url}: ${redirects} redirects, expected 1`);
  if (bytes !== blob.size) throw new Error(`curl -L GET ${url}: ${bytes} bytes, expected ${blob.size}`);
  return { seconds: total ?? NaN, bytes, redirectSeconds: redirect ?? NaN };
}

/** Untimed: following the redirect yields bytes that hash to the blob's digest. */
export async function verifyRedirectedPull(client: BenchClient, repo: string, blob: BlobFile): Promise<void> {
  const url = client.url(`/v2/${repo}/blobs/${blob.digest}`);
  const first = await fetch(url, { redirect: 'manual' });
  await first.body?.cancel();
  if (first.status !== 307) throw new Error(`GET ${url.pathname}: HTTP ${first.status}, expected a 307`);
  const res = await fetch(url);
  if (res.status !== 200 || !res.body) throw new Error(`GET ${url.pathname} (followed): HTTP ${res.status}`);
  const hash = createHash('sha256');
  for await (const chunk of res.body) hash.update(chunk);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== blob.digest) throw new Error(`GET ${url.pathname} (followed): content hashes to ${actual}`);
}

export interface GcRun {
  seconds: number;
  peakRssMiB: number;
  /** Berth's JSON summary line (blobsDeleted etc.); Distribution prints none. */
  summary?: Record<string, unknown>;
  /** Objects left in the bucket afterwards. */
  objectsAfter?: number;
}

/**
 * One `garbage-collect [-m] CONFIG` process on a bucket, wall time from start to exit and peak RSS from
 * GNU time, as bench/gc.ts times its filesystem runs: Berth through `registry/cli.ts garbage-collect` with the
 * image's Node flags, Distribution 2.8 as `docker-registry garbage-collect`, v3.1 as `distribution-v3 garbage-collect`.
 */
export async function runS3Gc(
  kind: RegistryKind,
  minio: Minio,
  bucket: string,
  deleteUntagged: boolean,
  workDir: string,
): Promise<GcRun> {
  const configFile = path.join(workDir, `${bucket}.yml`);
  await writeFile(
    configFile,
    dump(
      { version: 0.1, log: { level: 'error' }, storage: s3Storage(minio, bucket, false) },
      { skipInvalid: true },
    ),
  );
  const flags = deleteUntagged ? ['-m'] : [];
  // Berth with the image's Node flags (Dockerfile: berth-registry runs `node --max-semi-space-size=1 ...`).
  const command =
    kind === 'berth'
      ? [
          tools.node,
          ...registryNodeFlags,
          path.join(repoRoot, 'registry/cli.ts'),
          'garbage-collect',
          '-q',
          ...flags,
          configFile,
        ]
      : [tools[kind], 'garbage-collect', ...flags, configFile];
  const env = childEnv();
  // As the serving harness starts it (test/harness/distribution.ts): no OpenTelemetry export to localhost:4318.
  if (kind === 'distribution-v3') env['OTEL_TRACES_EXPORTER'] = 'none';
  const t0 = performance.now();
  const r = await exec('/usr/bin/time', ['-f', '@@time %e %M', ...command], {
    env,
    cwd: repoRoot,
    timeoutMs: 3_600_000,
  });
  const wall = (performance.now() - t0) / 1000;
  const m = /@@time (\S+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`${kind} garbage-collect: no timing from /usr/bin/time: ${r.stderr.slice(-500)}`);
  const run: GcRun = { seconds: Number(m[1]) || wall, peakRssMiB: Math.round(Number(m[2]) / 1024) };
  if (kind === 'berth') {
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      run.summary = JSON.parse(last) as Record<string, unknown>;
    } catch {
      throw new Error(`berth garbage-collect: no JSON summary on stdout: ${r.stdout.slice(-500)}`);
    }
  }
  return run;
}
