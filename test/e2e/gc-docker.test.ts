// Garbage collection as an operator runs it, with the real Docker engine as the client: push two images, delete
// one, switch the live registry read-only (config reload), collect, switch back; the kept image still pulls
// and the deleted image's layers are gone. Also: the collector refuses while the registry is read-write.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dump, load } from 'js-yaml';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { buildScratchImage } from '../harness/clients.ts';
import { startBerth } from '../harness/berth.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { exec } from '../harness/exec.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';

const stepTimeout = { timeout: 300_000 };
const cmd = { timeoutMs: 120_000 };
const manifestAccept = 'application/vnd.docker.distribution.manifest.v2+json';

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}

async function setReadOnly(registry: RunningRegistry, enabled: boolean): Promise<void> {
  const config = load(await readFile(registry.configPath, 'utf8')) as { storage: Record<string, unknown> };
  config.storage['maintenance'] = { readonly: { enabled } };
  await writeFile(registry.configPath, dump(config));
  await waitFor(`read-only=${enabled}`, async () => {
    const state = (await (await fetch(`${registry.url}/berth/v1/maintenance`)).json()) as {
      readOnly: boolean;
    };
    return state.readOnly === enabled ? true : undefined;
  });
}

function garbageCollect(registry: RunningRegistry, ...flags: string[]) {
  return exec(requireTool('node'), ['registry/cli.ts', 'garbage-collect', ...flags, registry.configPath], {
    cwd: repoRoot,
    check: false,
    timeoutMs: 120_000,
  });
}

describe('garbage collection with the real Docker engine', () => {
  let dockerd: Dockerd | undefined;
  let registry: RunningRegistry | undefined;
  const repo = `gc/app-${randomBytes(4).toString('hex')}`;
  let kept: Manifest | undefined;
  let deleted: Manifest | undefined;

  before(async () => {
    [dockerd, registry] = await Promise.all([startDockerd(), startBerth()]);
  });
  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ registry, dockerd });
    await Promise.allSettled([dockerd?.stop(), registry?.stop()]);
  });

  async function manifest(reference: string): Promise<{ digest: string; body: Manifest }> {
    assert.ok(registry);
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: manifestAccept },
    });
    assert.equal(res.status, 200);
    return { digest: res.headers.get('docker-content-digest') ?? '', body: (await res.json()) as Manifest };
  }

  it('pushes two images and deletes one', stepTimeout, async () => {
    assert.ok(dockerd && registry);
    for (const tag of ['keep', 'drop']) {
      const image = await buildScratchImage(dockerd.docker, `${registry.host}/${repo}:${tag}`, 2);
      await dockerd.docker(['push', image.tag], cmd);
    }
    kept = (await manifest('keep')).body;
    const drop = await manifest('drop');
    deleted = drop.body;
    const del = await fetch(`${registry.url}/v2/${repo}/manifests/${drop.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
  });

  it('refuses to collect while the registry is read-write', stepTimeout, async () => {
    assert.ok(registry);
    const result = await garbageCollect(registry);
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stderr, /read-write/);
  });

  it(
    'collects in a read-only window; the kept image pulls, the deleted layers are gone',
    stepTimeout,
    async () => {
      assert.ok(dockerd && registry && kept && deleted);
      await setReadOnly(registry, true);
      const result = await garbageCollect(registry);
      await setReadOnly(registry, false);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { blobsDeleted: number };
      assert.ok(
        summary.blobsDeleted >= 3,
        `expected the dropped image's config and layers swept: ${result.stdout}`,
      );

      for (const blob of [deleted.config.digest, ...deleted.layers.map((l) => l.digest)]) {
        const head = await fetch(`${registry.url}/v2/${repo}/blobs/${blob}`, { method: 'HEAD' });
        assert.equal(head.status, 404, `swept blob ${blob}`);
      }
      const image = `${registry.host}/${repo}:keep`;
      await dockerd.docker(['rmi', '--force', image], cmd);
      await dockerd.docker(['pull', image], cmd);
      for (const blob of [kept.config.digest, ...kept.layers.map((l) => l.digest)]) {
        const head = await fetch(`${registry.url}/v2/${repo}/blobs/${blob}`, { method: 'HEAD' });
        assert.equal(head.status, 200, `kept blob ${blob}`);
      }
    },
  );
});
