// Faults at 20 seeded random points: the registry SIGKILLed during concurrent pushes (8 times), the garbage
// collector during a run (6 times), `migrate` during a copy (6 times); each time on the same storage root.
// After every registry restart each push that had completed is readable and hashes to its digest; after the
// killed collections one complete run leaves every tagged image intact; after the killed copies one complete
// pass gives a target that serves every tagged image. The store checker (test/harness/store.ts) finds no
// problem on either root. Reproduce a run with BERTH_KILL_SEED (printed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { dump } from 'js-yaml';
import { startBerth } from '../harness/berth.ts';
import { exec } from '../harness/exec.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { checkStore } from '../harness/store.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { seededRandom } from '../harness/seeded-random.ts';
import { blobOf, call, ociManifest, unreadable, type Blob, type PushedImage } from './pushed-images.ts';

// A fixed default keeps CI runs repeatable; set BERTH_KILL_SEED to explore other kill points.
const seed = Number(process.env['BERTH_KILL_SEED'] ?? 20261203);
const random = seededRandom(seed);
/** Per request: a push to a registry that was just killed fails fast anyway. */
const requestTimeoutMs = 30_000;

/** Pushes one image (two layers and a config, monolithic PUTs) and tags it; throws on any failure. */
async function pushImage(base: string, repo: string, tag: string): Promise<PushedImage> {
  const layers = [blobOf(randomBytes(32 * 1024)), blobOf(randomBytes(8 * 1024))];
  const config = blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag })));
  for (const b of [...layers, config]) {
    const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await started.arrayBuffer();
    if (started.status !== 202) throw new Error(`POST upload: ${String(started.status)}`);
    const url = new URL(started.headers.get('location') ?? '', base);
    url.searchParams.set('digest', b.digest);
    const put = await call(
      'PUT',
      url.toString(),
      { 'content-type': 'application/octet-stream' },
      b.bytes,
      requestTimeoutMs,
    );
    if (put.status !== 201) throw new Error(`PUT blob: ${String(put.status)}`);
  }
  const d = (b: Blob, mediaType: string) => ({ mediaType, digest: b.digest, size: b.bytes.length });
  const manifest = blobOf(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: ociManifest,
        config: d(config, 'application/vnd.oci.image.config.v1+json'),
        layers: layers.map((l) => d(l, 'application/vnd.oci.image.layer.v1.tar')),
      }),
    ),
  );
  const put = await call(
    'PUT',
    `${base}/v2/${repo}/manifests/${tag}`,
    { 'content-type': ociManifest },
    manifest.bytes,
    requestTimeoutMs,
  );
  if (put.status !== 201) throw new Error(`PUT manifest: ${String(put.status)}`);
  return { repo, tag, manifest, blobs: [...layers, config] };
}

/** Runs the CLI and SIGKILLs it after `killAfterMs`; resolves with whether it had already finished. */
function runKilled(args: string[], killAfterMs: number): Promise<{ finished: boolean }> {
  const child = spawn(requireTool('node'), ['registry/cli.ts', ...args], { cwd: repoRoot, stdio: 'ignore' });
  return new Promise((resolve) => {
    let finished = true;
    const timer = setTimeout(() => {
      finished = false;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ finished });
    });
  });
}

async function runToEnd(args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await exec(requireTool('node'), ['registry/cli.ts', ...args], {
    cwd: repoRoot,
    check: false,
    timeoutMs: 300_000,
  });
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${String(r.code)}\n${r.stdout}\n${r.stderr}`);
  return performance.now() - t0;
}

const fsConfig = (root: string) => dump({ version: 0.1, storage: { filesystem: { rootdirectory: root } } });

describe(`SIGKILL at 20 seeded points (BERTH_KILL_SEED=${String(seed)})`, () => {
  let work = '';
  let root = '';
  let target = '';
  let rootConfig = '';
  let targetConfig = '';
  const kept: PushedImage[] = [];
  const kills = { push: 0, gc: 0, migrate: 0, finishedBeforeKill: 0 };

  before(async () => {
    console.log(`BERTH_KILL_SEED=${String(seed)}`);
    work = await makeTempDir('kill-points');
    root = path.join(work, 'root');
    target = path.join(work, 'target');
    rootConfig = path.join(work, 'root.yml');
    targetConfig = path.join(work, 'target.yml');
    await writeFile(rootConfig, fsConfig(root));
    await writeFile(targetConfig, fsConfig(target));
  });
  after(async () => {
    console.log(`kills: ${JSON.stringify(kills)}`);
    await removeTempDir(work);
  });

  test('registry killed during concurrent pushes, 8 times: every completed push survives', async () => {
    for (let round = 0; round < 8; round++) {
      const registry: RunningRegistry = await startBerth({ root });
      const { wrong } = await unreadable(registry.url, kept, requestTimeoutMs);
      assert.deepEqual(wrong, [], `after restart ${String(round)}`);
      let stop = false;
      const pushers = Array.from({ length: 10 }, async (_, p) => {
        for (let n = 0; !stop; n++) {
          try {
            kept.push(
              await pushImage(
                registry.url,
                `kill/app-${String(p % 3)}`,
                `r${String(round)}-${String(p)}-${String(n)}`,
              ),
            );
          } catch {
            return; // the registry is gone: this push never completed, so nothing is owed
          }
        }
      });
      await sleep(200 + Math.floor(random() * 1300));
      await registry.kill('SIGKILL');
      stop = true;
      await Promise.all(pushers);
      kills.push++;
    }
    const registry = await startBerth({ root });
    try {
      assert.deepEqual((await unreadable(registry.url, kept, requestTimeoutMs)).wrong, []);
      // Untag every third image so the collector has manifests and blobs to delete.
      for (const image of kept.filter((_, i) => i % 3 === 0)) {
        const res = await call(
          'DELETE',
          `${registry.url}/v2/${image.repo}/manifests/${image.tag}`,
          {},
          undefined,
          requestTimeoutMs,
        );
        assert.equal(res.status, 202, `untag ${image.tag}`);
      }
    } finally {
      await registry.stop();
    }
    kept.splice(0, kept.length, ...kept.filter((_, i) => i % 3 !== 0));
    console.log(`${String(kept.length)} tagged images after the push kills`);
    const report = await checkStore(root);
    assert.deepEqual(report.problems, []);
  });

  test('garbage collector killed during a run, 6 times: a complete run then leaves every tagged image', async () => {
    // --force-live: every registry on this root is stopped, but the killed ones' heartbeats look live until
    // they age out, and the collector rightly refuses then (exit 3).
    const args = ['garbage-collect', '--delete-untagged', '--force-live', '--quiet', rootConfig];
    const full = await runToEnd([...args.slice(0, -1), '--dry-run', rootConfig]);
    for (let i = 0; i < 6; i++) {
      const { finished } = await runKilled(args, Math.floor(random() * Math.max(full, 200)));
      kills.gc++;
      if (finished) kills.finishedBeforeKill++;
    }
    await runToEnd(args);
    const report = await checkStore(root);
    assert.deepEqual(report.problems, []);
    const registry = await startBerth({ root });
    try {
      assert.deepEqual((await unreadable(registry.url, kept, requestTimeoutMs)).wrong, []);
    } finally {
      await registry.stop();
    }
  });

  test('migrate killed during a copy, 6 times: a complete pass then gives a target that serves every image', async () => {
    const args = ['migrate', '--from', rootConfig, '--to', targetConfig, '--quiet'];
    const full = await runToEnd([...args, '--dry-run']);
    for (let i = 0; i < 6; i++) {
      // A dry run lists but does not copy: allow twice its time for the copying run.
      const { finished } = await runKilled(args, Math.floor(random() * Math.max(2 * full, 400)));
      kills.migrate++;
      if (finished) kills.finishedBeforeKill++;
    }
    await runToEnd(args);
    const report = await checkStore(target);
    assert.deepEqual(report.problems, []);
    const registry = await startBerth({ root: target });
    try {
      assert.deepEqual((await unreadable(registry.url, kept, requestTimeoutMs)).wrong, []);
    } finally {
      await registry.stop();
    }
    assert.equal(kills.push + kills.gc + kills.migrate, 20);
  });
});
