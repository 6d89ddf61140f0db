// Blob pushes, timed from the first request of the upload to the 201 that commits it.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BlobFile } from './blob-file.ts';
import { expectStatus, header, type BenchClient, type Response } from './http-client.ts';

export interface PushResult {
  seconds: number;
  bytes: number;
  requests: number;
  /** From the last body byte sent to the 201 (monolithic) or the final PUT alone (chunked): commit work. */
  commitSeconds: number;
}

/** How a registry takes a whole blob in one request. */
export type MonolithicMode = 'post' | 'put';

/**
 * POST ?digest= with a body is optional in the OCI spec: Distribution 2.8 answers 202 and ignores the body,
 * so clients must fall back to POST then PUT ?digest= with the body. A tiny probe tells which one applies.
 */
export async function detectMonolithicMode(client: BenchClient, repo: string): Promise<MonolithicMode> {
  const body = randomBytes(1024);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const res = await client.request(
    'POST',
    `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    { 'content-type': 'application/octet-stream' },
    body,
  );
  if (res.status === 201) {
    if (header(res, 'docker-content-digest') !== digest) {
      throw new Error(
        `monolithic POST probe: wrong Docker-Content-Digest ${header(res, 'docker-content-digest')}`,
      );
    }
    return 'post';
  }
  expectStatus('monolithic POST probe', res, 202);
  return 'put';
}

function uploadLocation(client: BenchClient, what: string, res: Response): URL {
  const location = header(res, 'location');
  if (location === undefined) throw new Error(`${what}: no Location header`);
  return client.url(location);
}

function withDigest(url: URL, digest: string): URL {
  const out = new URL(url);
  out.searchParams.set('digest', digest);
  return out;
}

function checkCommitted(what: string, res: Response, blob: BlobFile): void {
  expectStatus(what, res, 201);
  const got = header(res, 'docker-content-digest');
  if (got !== blob.digest) throw new Error(`${what}: Docker-Content-Digest ${got}, expected ${blob.digest}`);
}

/** The whole blob in one request: POST ?digest= where supported, else POST then PUT ?digest=. */
export async function pushMonolithic(
  client: BenchClient,
  repo: string,
  blob: BlobFile,
  mode: MonolithicMode,
): Promise<PushResult> {
  const whole = { file: blob.file, start: 0, end: blob.size - 1 };
  const t0 = performance.now();
  let res: Response & { sentAt: number };
  let requests = 1;
  if (mode === 'post') {
    res = await client.upload('POST', `/v2/${repo}/blobs/uploads/?digest=${blob.digest}`, whole);
  } else {
    const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
    expectStatus('start upload', started, 202);
    const url = withDigest(uploadLocation(client, 'start upload', started), blob.digest);
    res = await client.upload('PUT', url, whole);
    requests = 2;
  }
  const t1 = performance.now();
  checkCommitted(`monolithic push (${mode})`, res, blob);
  await verifyStored(client, repo, blob);
  return { seconds: (t1 - t0) / 1000, bytes: blob.size, requests, commitSeconds: (t1 - res.sentAt) / 1000 };
}

/** POST, then PATCH with Content-Range per chunk (following each Location), then PUT ?digest=. */
export async function pushChunked(
  client: BenchClient,
  repo: string,
  blob: BlobFile,
  chunkSize: number,
): Promise<PushResult> {
  const t0 = performance.now();
  const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  expectStatus('start chunked upload', started, 202);
  let location = uploadLocation(client, 'start chunked upload', started);
  let requests = 1;
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(start + chunkSize, blob.size) - 1;
    const res = await client.upload(
      'PATCH',
      location,
      { file: blob.file, start, end },
      { 'content-range': `${start}-${end}` },
    );
    requests++;
    expectStatus(`PATCH ${start}-${end}`, res, 202);
    const range = header(res, 'range');
    if (range !== `0-${end}`) throw new Error(`PATCH ${start}-${end}: Range ${range}, expected 0-${end}`);
    location = uploadLocation(client, `PATCH ${start}-${end}`, res);
  }
  const tPut = performance.now();
  const res = await client.request('PUT', withDigest(location, blob.digest));
  requests++;
  const t1 = performance.now();
  checkCommitted('chunked push: final PUT', res, blob);
  await verifyStored(client, repo, blob);
  return { seconds: (t1 - t0) / 1000, bytes: blob.size, requests, commitSeconds: (t1 - tPut) / 1000 };
}

/** HEAD after the push: the registry must now serve the blob with its size and digest. */
export async function verifyStored(client: BenchClient, repo: string, blob: BlobFile): Promise<void> {
  const res = await client.request('HEAD', `/v2/${repo}/blobs/${blob.digest}`);
  expectStatus(`HEAD blob ${blob.digest}`, res, 200);
  const length = header(res, 'content-length');
  const digest = header(res, 'docker-content-digest');
  if (length !== String(blob.size) || digest !== blob.digest) {
    throw new Error(`HEAD blob after push: Content-Length ${length}, Docker-Content-Digest ${digest}`);
  }
}
