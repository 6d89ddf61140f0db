// Blob pull: GET, body discarded, timed from the request to the last byte. The content is checked against
// the digest in a separate, untimed pull, so hashing never slows the timed client.
//
// The timed client is curl in its own process by default: measured on this 2-core machine, node:http
// tops out near 700 MB/s reading a response (64 KiB reads, one stream event each), while both registries
// serve 1.3-1.8 GB/s to curl, so a node:http client would cap both and hide the ratio.
// `--pull-client node` keeps the node:http client for comparison.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { exec } from '../test/harness/exec.ts';
import type { BlobFile } from './blob-file.ts';
import { header, type BenchClient } from './http-client.ts';
import { benchTools } from './tools.ts';

export type PullClient = 'curl' | 'node';

export interface PullResult {
  seconds: number;
  bytes: number;
  client: PullClient;
}

function check(
  what: string,
  status: number,
  bytes: number,
  digest: string | undefined,
  blob: BlobFile,
): void {
  if (status !== 200) throw new Error(`${what}: HTTP ${status}`);
  if (bytes !== blob.size) throw new Error(`${what}: got ${bytes} bytes, expected ${blob.size}`);
  if (digest !== blob.digest) throw new Error(`${what}: Docker-Content-Digest ${digest}`);
}

async function pullWithNode(client: BenchClient, path: string, blob: BlobFile): Promise<PullResult> {
  const t0 = performance.now();
  const res = await client.download(path);
  const seconds = (performance.now() - t0) / 1000;
  check(`GET ${path}`, res.status, res.bytes, header(res, 'docker-content-digest'), blob);
  return { seconds, bytes: res.bytes, client: 'node' };
}

async function pullWithCurl(client: BenchClient, path: string, blob: BlobFile): Promise<PullResult> {
  const url = client.url(path).toString();
  // curl's own clock (time_total) leaves out its process start-up.
  const { stdout } = await exec(benchTools.curl, [
    '--silent',
    '--show-error',
    '--output',
    '/dev/null',
    '--write-out',
    '%{http_code} %{size_download} %{time_total} %header{docker-content-digest}',
    url,
  ]);
  const [status, bytes, seconds, digest] = stdout.trim().split(' ');
  check(`curl GET ${path}`, Number(status), Number(bytes), digest, blob);
  return { seconds: Number(seconds), bytes: Number(bytes), client: 'curl' };
}

export function pullBlob(
  client: BenchClient,
  repo: string,
  blob: BlobFile,
  using: PullClient,
): Promise<PullResult> {
  const path = `/v2/${repo}/blobs/${blob.digest}`;
  return using === 'curl' ? pullWithCurl(client, path, blob) : pullWithNode(client, path, blob);
}

/** Untimed: the bytes served hash to the blob's digest. */
export async function verifyPull(client: BenchClient, repo: string, blob: BlobFile): Promise<void> {
  const hash = createHash('sha256');
  const path = `/v2/${repo}/blobs/${blob.digest}`;
  const res = await client.download(path, {}, (chunk) => hash.update(chunk));
  check(`GET ${path}`, res.status, res.bytes, header(res, 'docker-content-digest'), blob);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== blob.digest) throw new Error(`GET ${path}: content hashes to ${actual}`);
}
