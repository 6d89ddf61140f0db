// Manifest GET by tag with an OCI Accept header, driven by wrk (a C load generator in its own process, so
// the client is neither the bottleneck nor sharing this process's event loop).
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { exec } from '../test/harness/exec.ts';
import { repoRoot } from '../test/harness/tools.ts';
import { expectStatus, header, type BenchClient } from './http-client.ts';
import { measureCpu, type CpuTime } from './proc.ts';
import { benchTools } from './tools.ts';

const wrkScript = path.join(repoRoot, 'bench/wrk-report.lua');

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
/** What an OCI client sends when pulling by tag. */
export const acceptHeader = `${ociManifest}, application/vnd.oci.image.index.v1+json`;

export interface SeededManifest {
  repo: string;
  tag: string;
  digest: string;
  content: Buffer;
}

function digestOf(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

async function pushSmallBlob(client: BenchClient, repo: string, content: Buffer): Promise<string> {
  const digest = digestOf(content);
  const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  expectStatus('start upload', started, 202);
  const url = client.url(header(started, 'location') ?? '');
  url.searchParams.set('digest', digest);
  const res = await client.request('PUT', url, { 'content-type': 'application/octet-stream' }, content);
  expectStatus('PUT small blob', res, 201);
  return digest;
}

/** Pushes a small OCI image (config + one layer) and tags it; untimed set-up. */
export async function seedManifest(client: BenchClient, repo: string, tag: string): Promise<SeededManifest> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layer = randomBytes(4096);
  const configDigest = await pushSmallBlob(client, repo, config);
  const layerDigest = await pushSmallBlob(client, repo, layer);
  const content = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length },
      ],
    }),
  );
  const res = await client.request(
    'PUT',
    `/v2/${repo}/manifests/${tag}`,
    { 'content-type': ociManifest },
    content,
  );
  expectStatus('PUT manifest', res, 201);
  const seeded = { repo, tag, digest: digestOf(content), content };
  await verifyManifest(client, seeded);
  return seeded;
}

/** The GET that wrk repeats must return the exact bytes, digest and media type. */
export async function verifyManifest(client: BenchClient, m: SeededManifest): Promise<void> {
  const res = await client.request('GET', `/v2/${m.repo}/manifests/${m.tag}`, { accept: acceptHeader });
  expectStatus('GET manifest', res, 200);
  const problems = [];
  if (!res.body.equals(m.content)) problems.push('body differs from what was pushed');
  if (header(res, 'docker-content-digest') !== m.digest)
    problems.push(`Docker-Content-Digest ${header(res, 'docker-content-digest')}`);
  if (header(res, 'content-type') !== ociManifest)
    problems.push(`Content-Type ${header(res, 'content-type')}`);
  if (problems.length > 0) throw new Error(`GET manifest ${m.repo}:${m.tag}: ${problems.join('; ')}`);
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; max: number };
}

export interface WrkOptions {
  seconds: number;
  connections: number;
  threads: number;
  /** Request these paths in turn (per wrk thread) instead of the URL's path. */
  paths?: readonly string[];
}

export async function runWrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    wrkScript,
    '-H',
    `Accept: ${acceptHeader}`,
    url,
  ];
  const env = { ...process.env, BENCH_WRK_PATHS: (opts.paths ?? []).join(',') };
  const { stdout } = await exec(benchTools.wrk, args, { env, timeoutMs: (opts.seconds + 60) * 1000 });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_WRK_JSON '));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout}`);
  const raw = JSON.parse(line.slice('BENCH_WRK_JSON '.length)) as Omit<WrkResult, 'seconds' | 'rps'> & {
    duration_us: number;
    latency_us: WrkResult['latencyUs'];
  };
  const seconds = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    seconds,
    rps: raw.requests / seconds,
    bytes: raw.bytes,
    errors: raw.errors,
    latencyUs: raw.latency_us,
  };
}

/**
 * Warm-up (discarded: lets V8 optimise and Go grow its pools), then the measured run; any error fails. With
 * several manifests wrk asks for their tags in turn, so concurrent requests name different tags.
 */
export async function measureManifestGet(
  client: BenchClient,
  manifests: readonly [SeededManifest, ...SeededManifest[]],
  opts: WrkOptions & { warmupSeconds: number; pid: number },
): Promise<WrkResult & { cpu: CpuTime }> {
  const [m] = manifests;
  const url = client.url(`/v2/${m.repo}/manifests/${m.tag}`).toString();
  if (manifests.length > 1)
    opts = { ...opts, paths: manifests.map((x) => `/v2/${x.repo}/manifests/${x.tag}`) };
  await runWrk(url, { ...opts, seconds: opts.warmupSeconds });
  const { result, cpu } = await measureCpu(opts.pid, () => runWrk(url, opts));
  const errors = Object.entries(result.errors).filter(([, n]) => n > 0);
  if (errors.length > 0 || result.requests === 0) {
    throw new Error(
      `manifest GET under load failed: ${result.requests} requests, errors ${errors.map(([k, n]) => `${k}=${n}`).join(', ')}`,
    );
  }
  // After the load, the registry must still serve the right bytes.
  for (const x of manifests) await verifyManifest(client, x);
  return { ...result, cpu };
}
