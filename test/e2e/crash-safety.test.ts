// Crash safety: the registry under test is killed with SIGKILL in the middle of a big blob upload and
// in the middle of manifest PUTs, then restarted on the same root. The store must be consistent (no
// partial blob visible, every link resolves, no torn manifest) and the interrupted push must succeed
// when retried with skopeo. A client that disconnects mid-upload must leave nothing behind either.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeClientState, skopeo } from '../harness/clients.ts';
import {
  blob,
  buildImage,
  mediaTypes,
  sha256,
  writeOciLayout,
  type BuiltImage,
} from '../harness/oci-image.ts';
import { getManifest, headBlob, pushBlob, putManifest, startUpload } from '../harness/registry-api.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { checkStore } from '../harness/store.ts';
import { startTarget, targetKind } from '../harness/target.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { assertPulls, assertServes } from '../harness/verify.ts';

const step = { timeout: 300_000 };
const MiB = 1024 * 1024;

interface SlowRequest {
  /** Resolves once the chunk is handed to the kernel; rejects when the connection is gone. */
  write(chunk: Buffer): Promise<void>;
  /** The status if the server answered, or the connection error. */
  outcome: Promise<{ status?: number; error?: Error }>;
  destroy(): void;
}

function slowRequest(url: string, method: string, headers: http.OutgoingHttpHeaders): SlowRequest {
  const req = http.request(url, { method, headers, agent: false });
  const outcome = new Promise<{ status?: number; error?: Error }>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('error', (error) => resolve({ error }));
  });
  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        req.write(chunk, (err) => (err ? reject(err) : resolve()));
      }),
    outcome,
    destroy: () => req.destroy(),
  };
}

/** Sends `body` in 256 KiB pieces with a pause between them, and calls `at` once `atBytes` are out. */
async function sendSlowly(
  r: SlowRequest,
  body: Buffer,
  atBytes: number,
  at: () => Promise<void>,
): Promise<number> {
  let sent = 0;
  const piece = 256 * 1024;
  while (sent < body.length) {
    try {
      await r.write(body.subarray(sent, sent + piece));
    } catch {
      break; // the server is gone
    }
    sent += Math.min(piece, body.length - sent);
    if (sent >= atBytes) {
      await at();
      break;
    }
    await sleep(5);
  }
  return sent;
}

async function assertConsistent(root: string, when: string): Promise<string[]> {
  const report = await checkStore(root);
  if (report.leftovers.length > 0)
    process.stdout.write(`leftovers ${when}:\n  ${report.leftovers.join('\n  ')}\n`);
  assert.deepEqual(report.problems, [], `store inconsistent ${when}`);
  return report.blobs;
}

describe(`crash safety of ${targetKind()}`, () => {
  let workDir = '';
  let root = '';
  let registry: RunningRegistry | undefined;
  const earlier: RunningRegistry[] = [];
  const id = randomBytes(4).toString('hex');

  before(async () => {
    workDir = await makeTempDir('crash');
  });

  /** Each test gets its own root, so one test's damage cannot fail the next. */
  async function fresh(label: string): Promise<void> {
    if (registry !== undefined) earlier.push(registry);
    await registry?.stop();
    registry = undefined;
    root = path.join(workDir, `root-${label}`);
    registry = await startTarget({ root });
  }

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print(
      Object.fromEntries([...earlier, registry].map((r, i) => [`${r?.kind ?? ''} run ${i + 1}`, r])),
    );
    await Promise.allSettled([registry?.stop(), ...earlier.map((r) => r.stop()), removeClientState()]);
    if (workDir !== '') await removeTempDir(workDir);
  });

  function current(): RunningRegistry {
    assert.ok(registry, 'the registry is not running (an earlier step failed)');
    return registry;
  }

  /** SIGKILL the registry (process group), then start it again on the same root. */
  async function crashAndRestart(): Promise<void> {
    const r = current();
    registry = undefined;
    earlier.push(r);
    const exit = await r.kill('SIGKILL');
    assert.equal(
      exit.signal,
      'SIGKILL',
      `the registry exited on its own before the kill: ${JSON.stringify(exit)}`,
    );
    registry = await startTarget({ root });
  }

  async function pushWithSkopeo(image: BuiltImage, repo: string, tag: string): Promise<void> {
    const layout = path.join(workDir, `layout-${randomBytes(4).toString('hex')}`);
    await writeOciLayout(layout, { image });
    await skopeo([
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout}:image`,
      `docker://${current().host}/${repo}:${tag}`,
    ]);
    await removeTempDir(layout).catch(() => undefined);
  }

  it('survives SIGKILL during a 64 MiB streamed blob upload, and the push can be retried', step, async () => {
    await fresh('blob');
    const repo = `e2e/crash-blob-${id}`;
    // gzip level 0: a 64 MiB layer without spending seconds compressing random bytes.
    const image = buildImage({ layerBytes: 64 * MiB, gzipLevel: 0 });
    const layer = image.layers[0];
    assert.ok(layer);
    const upload = await startUpload(current().url, repo);
    const patch = slowRequest(upload, 'PATCH', { 'content-type': 'application/octet-stream' });
    const sent = await sendSlowly(patch, layer.bytes, 24 * MiB, crashAndRestart);
    assert.ok(sent >= 24 * MiB && sent < layer.size, `sent ${sent} bytes before the kill`);
    const outcome = await patch.outcome;
    assert.equal(outcome.status, undefined, 'the interrupted PATCH got an answer');

    const blobs = await assertConsistent(root, 'after SIGKILL during a blob upload');
    assert.ok(!blobs.includes(layer.digest), 'the partly uploaded blob is visible under blobs/');
    assert.equal((await headBlob(current().url, repo, layer.digest)).status, 404);

    await pushWithSkopeo(image, repo, 'v1');
    await assertServes(current(), repo, 'v1', image);
    await assertPulls(current(), repo, 'v1', path.join(workDir, 'pulled-blob'));
    await assertConsistent(root, 'after the retried push');
  });

  it('survives SIGKILL during a manifest PUT whose body is half sent', step, async () => {
    await fresh('manifest');
    const repo = `e2e/crash-manifest-${id}`;
    const image = buildImage({ layerBytes: 256 * 1024 });
    for (const b of [image.config, ...image.layers]) await pushBlob(current().url, repo, b);
    const m = image.manifest;
    const put = slowRequest(`${current().url}/v2/${repo}/manifests/v1`, 'PUT', {
      'content-type': m.mediaType,
      'content-length': String(m.size),
    });
    await put.write(m.bytes.subarray(0, Math.floor(m.size / 2)));
    await sleep(200);
    await crashAndRestart();
    assert.equal((await put.outcome).status, undefined, 'the half-sent manifest PUT got an answer');

    await assertConsistent(root, 'after SIGKILL during a manifest PUT');
    const got = await getManifest(current().url, repo, 'v1');
    assert.equal(got.status, 404, 'a manifest whose upload never finished is served');

    await pushWithSkopeo(image, repo, 'v1');
    await assertServes(current(), repo, 'v1', image);
  });

  it('survives SIGKILL in the middle of 40 concurrent manifest PUTs: no torn manifest', step, async () => {
    await fresh('manifests');
    const repo = `e2e/crash-manifests-${id}`;
    const image = buildImage({ layerBytes: 64 * 1024 });
    for (const b of [image.config, ...image.layers]) await pushBlob(current().url, repo, b);
    const base = JSON.parse(image.manifest.bytes.toString('utf8')) as Record<string, unknown>;
    // Distinct manifests over the same blobs; padding makes each one big enough to take a while to write.
    const manifests = Array.from({ length: 40 }, (_, i) =>
      blob(
        mediaTypes.oci.manifest,
        Buffer.from(
          JSON.stringify({
            ...base,
            annotations: {
              'e2e.berth.dev/n': String(i),
              'e2e.berth.dev/pad': randomBytes(96 * 1024).toString('hex'),
            },
          }),
        ),
      ),
    );
    const url = current().url;
    let firstDone!: () => void;
    const first = new Promise<void>((resolve) => (firstDone = resolve));
    const puts = manifests.map((m, i) =>
      putManifest(url, repo, `t${i}`, m).then(
        () => {
          firstDone();
          return 'ok';
        },
        (err: Error) => err.message,
      ),
    );
    const giveUp = new AbortController();
    await Promise.race([first, sleep(10_000, undefined, { signal: giveUp.signal }).catch(() => undefined)]);
    giveUp.abort();
    await crashAndRestart();
    const results = await Promise.all(puts);
    const acknowledged = results.filter((r) => r === 'ok').length;

    await assertConsistent(root, 'after SIGKILL during manifest PUTs');
    let served = 0;
    for (const [i, m] of manifests.entries()) {
      const got = await getManifest(current().url, repo, `t${i}`);
      if (results[i] === 'ok') assert.equal(got.status, 200, `acknowledged tag t${i} was lost`);
      if (got.status === 404) continue;
      assert.equal(got.status, 200, `GET t${i}: ${got.status} ${got.body.toString('utf8').slice(0, 300)}`);
      assert.equal(sha256(got.body), m.digest, `tag t${i} serves a torn or foreign manifest`);
      assert.equal(got.headers.get('docker-content-digest'), m.digest);
      served++;
    }
    process.stdout.write(
      `manifest PUTs acknowledged before the kill: ${acknowledged}/40, served after restart: ${served}\n`,
    );

    // Retrying every PUT now succeeds and serves exactly what was sent.
    for (const [i, m] of manifests.entries()) await putManifest(current().url, repo, `t${i}`, m);
    for (const [i, m] of manifests.entries()) {
      const got = await getManifest(current().url, repo, `t${i}`);
      assert.equal(sha256(got.body), m.digest, `t${i} after the retry`);
    }
    await assertConsistent(root, 'after retrying the manifest PUTs');
  });

  it('leaves nothing behind when a client disconnects mid-upload', step, async () => {
    await fresh('disconnect');
    const repo = `e2e/crash-disconnect-${id}`;
    const image = buildImage({ layerBytes: 16 * MiB, gzipLevel: 0 });
    const layer = image.layers[0];
    assert.ok(layer);
    const upload = await startUpload(current().url, repo);
    const patch = slowRequest(upload, 'PATCH', { 'content-type': 'application/octet-stream' });
    await sendSlowly(patch, layer.bytes, 8 * MiB, async () => patch.destroy());
    await patch.outcome;
    await sleep(500);
    assert.ok(current().process.exitCode === null, 'the registry died when a client went away');
    const blobs = await assertConsistent(root, 'after a client disconnected mid-upload');
    assert.ok(!blobs.includes(layer.digest), 'the partly uploaded blob is visible under blobs/');
    assert.equal((await headBlob(current().url, repo, layer.digest)).status, 404);
    await pushWithSkopeo(image, repo, 'v1');
    await assertServes(current(), repo, 'v1', image);
  });
});
