// Differential test: Berth's `garbage-collect` against CNCF Distribution 2.8's (Debian's docker-registry)
// on the same storage root. A corpus is pushed through Berth's HTTP API (≥ 50 repositories, layers shared
// across repositories, overwritten tags, deleted tags, untagged manifests, OCI indexes and Docker manifest
// lists, artifacts with a subject, manifests deleted through the API — and, as Distribution's API leaves
// them, revision directories without their link file —, orphan blobs, a manifest copied untagged into
// another repository), the root is copied twice, each collector runs on its copy, with and without
// --delete-untagged, and the surviving blobs, manifest revisions, tags and layer links are compared.
//
// Both results are also checked against a model of each collector computed from what was pushed, so every
// difference is asserted as an exact set. The differences, all Distribution 2.8 bugs or gaps:
//   1. with -m, 2.8 deletes the untagged children of a tagged index / manifest list (and sweeps their layers,
//      keeping only the children's manifest blobs) — the multi-platform image is broken afterwards. Berth
//      keeps them (Distribution v3 semantics).
//   2. with -m, 2.8 deletes untagged referrers (signatures, SBOMs: manifests with a `subject`) of kept
//      manifests: its collector knows nothing of `subject`. Berth keeps them.
//   3. 2.8 never removes `_layers` links, so repositories keep links to blobs it swept. Berth removes them
//      (as Distribution v3 does).
//   4. with -m, 2.8 aborts ("failed to retrieve tags unknown repository") on a repository that has
//      manifests but no tags directory; Berth collects it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exec } from '../harness/exec.ts';
import { removeTempDir } from '../harness/tmp.ts';
import { requireTool } from '../harness/tools.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { forEachConcurrent } from '../../registry/gc/limit.ts';
import { garbageCollectCommand } from '../../registry/gc/command.ts';
import type { GcSummary } from '../../registry/gc/summary.ts';
import {
  berthKeeps,
  CorpusBuilder,
  fastTempDir,
  minus,
  readRootState,
  type Descriptor,
  type Kept,
  type RootState,
} from './corpus.ts';

const repositoryCount = 56;

/**
 * Distribution 2.8's rule: without -m every revision is kept; with -m only revisions a tag points at (per
 * repository). Marked blobs: each kept manifest's own digest and its direct references — for an index that
 * is the children's manifest digests, but not the children's layers.
 */
function distributionKeeps(corpus: CorpusBuilder, deleteUntagged: boolean): Kept {
  const revisions = new Set<string>();
  for (const [key, m] of corpus.manifests) {
    const tagged = [...(corpus.tags.get(m.repo)?.values() ?? [])].includes(m.digest);
    if (!deleteUntagged || tagged) revisions.add(key);
  }
  const blobs = new Set<string>();
  for (const key of revisions) {
    const m = corpus.manifests.get(key);
    if (!m) continue;
    blobs.add(m.digest);
    for (const ref of m.refs) blobs.add(ref);
  }
  return { revisions, blobs };
}

/** Pushes one repository's worth of scenarios. */
async function populate(
  c: CorpusBuilder,
  i: number,
  base: Buffer[],
  copies: string[],
  distributionDeletes: { repo: string; digest: string }[],
): Promise<void> {
  const repo = i % 10 === 9 ? `solo${i}` : `team${i % 7}/${i % 5 === 0 ? 'sub/' : ''}app${i}`;
  const shared = (k: number): Buffer => base[(i + k) % base.length] ?? Buffer.alloc(0);

  const v1 = await c.image(repo, 'v1', { layers: [shared(0), c.unique('v1')] });
  // Overwritten tag: the first `latest` stays as an untagged revision (still in the tag's history).
  await c.image(repo, 'latest', { layers: [shared(3), c.unique('latest-old')] });
  await c.image(repo, 'latest', { layers: [shared(0), c.unique('latest-new')] });
  // Deleted tag: the revision stays, untagged.
  await c.image(repo, 'old', { layers: [shared(5), c.unique('old')] });
  await c.deleteTag(repo, 'old');
  // Pushed by digest only.
  const untagged = await c.image(repo, null, { layers: [c.unique('untagged')] });

  let index: Descriptor | undefined;
  if (i % 3 === 0) {
    const children = [
      await c.image(repo, null, { layers: [shared(1), c.unique('amd64')] }),
      await c.image(repo, null, { layers: [shared(2), c.unique('arm64')] }),
    ];
    index = await c.index(repo, 'multi', children);
  }
  if (i % 6 === 0) {
    // An untagged index with untagged children: all of it goes with -m.
    const children = [
      await c.image(repo, null, { layers: [c.unique('gone-amd64')] }),
      await c.image(repo, null, { layers: [shared(4), c.unique('gone-arm64')] }),
    ];
    await c.index(repo, null, children);
  }
  if (i % 7 === 0) {
    const children = [
      await c.image(repo, null, { docker: true, layers: [shared(6), c.unique('docker-amd64')] }),
      await c.image(repo, null, { docker: true, layers: [c.unique('docker-arm64')] }),
    ];
    await c.index(repo, 'docker', children, { docker: true });
  }
  if (i % 4 === 0) {
    const artifact = { artifactType: 'application/vnd.example.signature', emptyConfig: true };
    // Referrers of a kept manifest, and a referrer of that referrer.
    const sig = await c.image(repo, null, { ...artifact, layers: [c.unique('sig')], subject: v1 });
    await c.image(repo, null, { ...artifact, layers: [c.unique('sig-of-sig')], subject: sig });
    // A referrer of an untagged manifest: swept with it under -m.
    await c.image(repo, null, { ...artifact, layers: [c.unique('sig-untagged')], subject: untagged });
    if (index) {
      // An index-shaped artifact whose subject is the tagged index.
      const part = await c.image(repo, null, { ...artifact, layers: [c.unique('sbom-part')] });
      await c.index(repo, null, [part], { subject: index });
    }
  }
  if (i % 10 === 0) {
    // A tagged referrer keeps itself, not its (untagged) subject.
    await c.image(repo, 'sbom', {
      artifactType: 'application/spdx+json',
      emptyConfig: true,
      layers: [c.unique('sbom')],
      subject: untagged,
    });
  }
  if (i % 5 === 0) {
    // Deleted through the API: its unique layers are garbage in both modes.
    const doomed = await c.image(repo, 'tmp', { layers: [shared(7), c.unique('deleted')] });
    await c.deleteManifest(repo, doomed.digest);
  }
  if (i % 8 === 0) await c.blob(repo, c.unique('orphan'));
  // Deleted the way Distribution's API deletes a manifest: only the revision's link file goes.
  if (i % 11 === 0) distributionDeletes.push({ repo, digest: untagged.digest });
  copies.push(repo);
}

async function distributionGc(root: string, deleteUntagged: boolean): Promise<string> {
  const config = path.join(root, '..', `dist-${path.basename(root)}.yml`);
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`,
  );
  const args = ['garbage-collect', ...(deleteUntagged ? ['--delete-untagged'] : []), config];
  return (await exec(requireTool('distribution'), args, { timeoutMs: 120_000 })).stdout;
}

async function berthGc(root: string, deleteUntagged: boolean): Promise<GcSummary> {
  const config = path.join(root, '..', `berth-${path.basename(root)}.yml`);
  await writeFile(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`);
  let out = '';
  let err = '';
  const code = await garbageCollectCommand([...(deleteUntagged ? ['-m'] : []), '--quiet', config], {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
  });
  assert.equal(code, 0, err);
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as GcSummary;
}

describe('garbage-collect differential against Distribution 2.8', { timeout: 240_000 }, () => {
  let registry: TestRegistry;
  let work: string;
  let corpus: CorpusBuilder;
  let pristine: RootState;

  before(async () => {
    requireTool('distribution');
    work = await fastTempDir('gc-diff');
    registry = await startTestRegistry({ root: path.join(work, 'source') });
    corpus = new CorpusBuilder(registry.url);
    const base = Array.from({ length: 12 }, (_, k) => corpus.unique(`base${k}`, 256));
    const repos: string[] = [];
    const distributionDeletes: { repo: string; digest: string }[] = [];
    await forEachConcurrent(
      Array.from({ length: repositoryCount }, (_, i) => i),
      8,
      (i) => populate(corpus, i, base, repos, distributionDeletes),
    );
    // A manifest tagged in one repository and present, untagged, in another: per repository, -m deletes
    // the untagged copy in both implementations (its blobs stay, marked by the tagged one).
    for (let k = 0; k + 1 < repos.length; k += 9) {
      const from = repos[k] ?? '';
      const to = repos[k + 1] ?? '';
      const digest = corpus.tags.get(from)?.get('v1') ?? '';
      await corpus.copyManifest(to, from, digest, null);
    }
    await registry.close();
    for (const { repo, digest } of distributionDeletes) {
      const revision = path.join(
        registry.root,
        'docker/registry/v2/repositories',
        repo,
        '_manifests/revisions',
      );
      await rm(path.join(revision, 'sha256', digest.slice(7), 'link'));
      corpus.manifests.delete(`${repo}@${digest}`);
    }
    assert.ok(distributionDeletes.length >= 5);
    pristine = await readRootState(registry.root);
  });

  after(async () => {
    await removeTempDir(work);
  });

  it('built the corpus it claims', () => {
    const repos = new Set([...corpus.manifests.values()].map((m) => m.repo));
    assert.ok(repos.size >= 50, `${repos.size} repositories`);
    const all = [...corpus.manifests.values()];
    assert.ok(all.some((m) => m.children.length > 0));
    assert.ok(all.some((m) => m.subject !== undefined));
    assert.equal(pristine.revisions.size, corpus.manifests.size);
  });

  for (const deleteUntagged of [false, true]) {
    it(`agrees with Distribution 2.8 ${deleteUntagged ? 'with' : 'without'} --delete-untagged, except for its known bugs`, async (t) => {
      const tag = deleteUntagged ? 'm' : 'plain';
      const berthRoot = path.join(work, `berth-${tag}`, 'root');
      const distRoot = path.join(work, `dist-${tag}`, 'root');
      await Promise.all([copyRoot(registry.root, berthRoot), copyRoot(registry.root, distRoot)]);
      const [summary] = await Promise.all([
        berthGc(berthRoot, deleteUntagged),
        distributionGc(distRoot, deleteUntagged),
      ]);
      const berth = await readRootState(berthRoot);
      const dist = await readRootState(distRoot);
      const berthModel = berthKeeps(corpus, deleteUntagged);
      const distModel = distributionKeeps(corpus, deleteUntagged);

      // Each collector does exactly what its model says.
      assert.deepEqual([...berth.revisions].sort(), [...berthModel.revisions].sort(), 'Berth revisions');
      assert.deepEqual([...berth.blobs].sort(), [...berthModel.blobs].sort(), 'Berth blobs');
      assert.deepEqual([...dist.revisions].sort(), [...distModel.revisions].sort(), 'Distribution revisions');
      assert.deepEqual([...dist.blobs].sort(), [...distModel.blobs].sort(), 'Distribution blobs');

      // Berth never deletes anything Distribution keeps.
      assert.deepEqual(minus(dist.revisions, berth.revisions), []);
      assert.deepEqual(minus(dist.blobs, berth.blobs), []);

      // What only Berth keeps: exactly the index children and referrers 2.8 wrongly deletes with -m.
      const onlyBerthRevisions = minus(berth.revisions, dist.revisions);
      const onlyBerthBlobs = minus(berth.blobs, dist.blobs);
      if (!deleteUntagged) {
        assert.deepEqual(onlyBerthRevisions, []);
        assert.deepEqual(onlyBerthBlobs, []);
      } else {
        const expected = new Set<string>();
        for (const key of berthModel.revisions) {
          const m = corpus.manifests.get(key);
          const tagged = [...(corpus.tags.get(m?.repo ?? '')?.values() ?? [])].includes(m?.digest ?? '');
          if (!tagged) expected.add(key);
        }
        assert.deepEqual(onlyBerthRevisions, [...expected].sort());
        const childrenOfKept = [...expected].filter(
          (key) => corpus.manifests.get(key)?.subject === undefined,
        );
        const referrersOfKept = [...expected].filter(
          (key) => corpus.manifests.get(key)?.subject !== undefined,
        );
        // 19 tagged indexes/lists × 2 children (+ one sbom part per index artifact), 14 × 2 signatures + 5 index artifacts.
        assert.ok(childrenOfKept.length >= 40, `children kept only by Berth: ${childrenOfKept.length}`);
        assert.ok(referrersOfKept.length >= 30, `referrers kept only by Berth: ${referrersOfKept.length}`);
        assert.deepEqual(onlyBerthBlobs, minus(berthModel.blobs, distModel.blobs));
        assert.ok(onlyBerthBlobs.length > 0);
        t.diagnostic(
          `kept by Berth, deleted by 2.8: ${childrenOfKept.length} index children, ` +
            `${referrersOfKept.length} referrers, ${onlyBerthBlobs.length} blobs`,
        );
      }

      // Tags and tag history agree (manifests deleted by -m lose their history entries in both).
      assert.deepEqual([...berth.currentTags].sort(), [...dist.currentTags].sort());
      assert.deepEqual([...berth.tagHistory].sort(), [...dist.tagHistory].sort());

      // Layer links: 2.8 leaves them all; Berth removes exactly those to blobs it swept.
      assert.deepEqual([...dist.layerLinks].sort(), [...pristine.layerLinks].sort());
      const expectedLinks = [...pristine.layerLinks].filter((l) =>
        berth.blobs.has(l.slice(l.indexOf('->') + 2)),
      );
      assert.deepEqual([...berth.layerLinks].sort(), expectedLinks.sort());
      assert.ok(expectedLinks.length < pristine.layerLinks.size);
      t.diagnostic(
        `Berth: ${summary.manifestsDeleted} manifests, ${summary.blobsDeleted} blobs, ` +
          `${summary.layerLinksDeleted} layer links deleted; 2.8 left ${pristine.layerLinks.size - expectedLinks.length} ` +
          `layer links to swept blobs`,
      );

      // The summary agrees with what happened on disk.
      assert.equal(summary.blobsDeleted, pristine.blobs.size - berth.blobs.size);
      assert.equal(summary.manifestsDeleted, pristine.revisions.size - berth.revisions.size);
      assert.equal(summary.manifestsMarked, berth.revisions.size);
      assert.equal(summary.layerLinksDeleted, pristine.layerLinks.size - berth.layerLinks.size);
    });
  }

  it('collects a repository without tags, where Distribution 2.8 -m aborts', async () => {
    const root = path.join(work, 'untagged-only', 'root');
    await copyRoot(registry.root, root);
    // Strip every tag of one repository.
    const repo = [...corpus.tags.keys()][0] ?? '';
    await rm(path.join(root, 'docker/registry/v2/repositories', repo, '_manifests/tags'), {
      recursive: true,
    });
    const dist = await exec(
      requireTool('distribution'),
      ['garbage-collect', '-m', '--dry-run', await distConfig(root)],
      { check: false },
    );
    assert.notEqual(dist.code, 0);
    assert.match(dist.stderr + dist.stdout, /unknown repository/);
    const summary = await berthGc(root, true);
    const state = await readRootState(root);
    assert.equal([...state.revisions].filter((r) => r.startsWith(`${repo}@`)).length, 0);
    assert.ok(summary.manifestsDeleted > 0);
  });
});

/** `cp -a` (node's fs.cp takes seconds for the thousands of tiny files of a corpus). */
async function copyRoot(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  await exec('cp', ['-a', from, to]);
}

async function distConfig(root: string): Promise<string> {
  const config = path.join(root, '..', 'dist.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`,
  );
  return config;
}
