// Same storage, either implementation: a root written by CNCF Distribution 2.8 (Debian's docker-registry)
// is served by the registry under test with every digest unchanged, and the other way round. Each side
// then writes more into the other's root, and the first reads it all back.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { removeClientState, skopeo } from '../harness/clients.ts';
import { startDistribution } from '../harness/distribution.ts';
import {
  buildImage,
  buildTwoPlatformIndex,
  writeOciLayout,
  type BuiltImage,
  type BuiltIndex,
} from '../harness/oci-image.ts';
import { catalog, listTags, pushContent } from '../harness/registry-api.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { checkStore } from '../harness/store.ts';
import { startTarget, targetKind } from '../harness/target.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { assertPulls, assertServes } from '../harness/verify.ts';

const step = { timeout: 300_000 };

interface Pushed {
  repo: string;
  tag: string;
  content: BuiltImage | BuiltIndex;
}

type Start = (root: string) => Promise<RunningRegistry>;

const startDist: Start = (root) => startDistribution({ root });
const startUnderTest: Start = (root) => startTarget({ root });

/**
 * Pushes a varied set of content: an OCI image under two tags, a two-platform OCI index (skopeo --all),
 * a Docker schema2 image and manifest list in a nested repository (raw API).
 */
async function populate(registry: RunningRegistry, prefix: string, workDir: string): Promise<Pushed[]> {
  const layout = path.join(workDir, `layout-${prefix.replace(/\W/g, '-')}`);
  const image = buildImage({ layerBytes: 128 * 1024 });
  const index = buildTwoPlatformIndex({ layerBytes: 32 * 1024 });
  await writeOciLayout(layout, { image, index });
  const copy = (ref: string, dest: string): Promise<unknown> =>
    skopeo([
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout}:${ref}`,
      `docker://${registry.host}/${dest}`,
    ]);
  await copy('image', `${prefix}/oci:v1`);
  await copy('image', `${prefix}/oci:latest`);
  await copy('index', `${prefix}/multi:v1`);
  const dockerImage = buildImage({ format: 'docker', layerBytes: 64 * 1024 });
  const dockerList = buildTwoPlatformIndex({ format: 'docker', layerBytes: 16 * 1024 });
  await pushContent(registry.url, `${prefix}/nested/docker`, 'image', dockerImage);
  await pushContent(registry.url, `${prefix}/nested/docker`, 'list', dockerList);
  return [
    { repo: `${prefix}/oci`, tag: 'v1', content: image },
    { repo: `${prefix}/oci`, tag: 'latest', content: image },
    { repo: `${prefix}/multi`, tag: 'v1', content: index },
    { repo: `${prefix}/nested/docker`, tag: 'image', content: dockerImage },
    { repo: `${prefix}/nested/docker`, tag: 'list', content: dockerList },
  ];
}

async function assertServesAll(registry: RunningRegistry, pushed: Pushed[]): Promise<void> {
  for (const p of pushed) await assertServes(registry, p.repo, p.tag, p.content);
  const repos = [...new Set(pushed.map((p) => p.repo))];
  for (const repo of repos) {
    const expected = pushed.filter((p) => p.repo === repo).map((p) => p.tag);
    assert.deepEqual(
      await listTags(registry.url, repo),
      expected.sort(),
      `${registry.kind}: tags of ${repo}`,
    );
  }
  const listed = await catalog(registry.url);
  for (const repo of repos)
    assert.ok(listed.includes(repo), `${registry.kind}: ${repo} missing from ${JSON.stringify(listed)}`);
  const pullDir = await makeTempDir('pull');
  try {
    for (const [i, p] of pushed.entries())
      await assertPulls(registry, p.repo, p.tag, path.join(pullDir, String(i)));
  } finally {
    await removeTempDir(pullDir);
  }
}

async function assertConsistent(root: string, who: string): Promise<void> {
  const report = await checkStore(root);
  assert.deepEqual(report.problems, [], `storage root after ${who} is inconsistent`);
}

describe(`storage compatibility between distribution and ${targetKind()}`, () => {
  let workDir = '';
  const running: RunningRegistry[] = [];
  const id = randomBytes(4).toString('hex');

  before(async () => {
    workDir = await makeTempDir('compat');
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print(Object.fromEntries(running.map((r, i) => [`${r.kind} #${i + 1}`, r])));
    await Promise.allSettled(running.map((r) => r.stop()));
    await removeClientState();
    if (workDir !== '') await removeTempDir(workDir);
  });

  async function start(fn: Start, root: string): Promise<RunningRegistry> {
    const r = await fn(root);
    running.push(r);
    return r;
  }

  /** `writer` fills a root, `reader` serves it, writes more, and `writer` serves everything again. */
  async function roundTrip(writer: Start, reader: Start, label: string): Promise<void> {
    const root = path.join(workDir, `root-${label}`);
    const first = await start(writer, root);
    const written = await populate(first, `e2e/compat-${label}-${id}`, workDir);
    const catalogBefore = await catalog(first.url);
    await first.stop();
    await assertConsistent(root, first.kind);

    const second = await start(reader, root);
    await assertServesAll(second, written);
    assert.deepEqual(await catalog(second.url), catalogBefore, `${second.kind} lists other repositories`);
    const added = await populate(second, `e2e/compat-${label}-${id}-more`, workDir);
    await second.stop();
    await assertConsistent(root, `${first.kind} then ${second.kind}`);

    const again = await start(writer, root);
    await assertServesAll(again, [...written, ...added]);
    await again.stop();
  }

  it(`${targetKind()} serves a root written by distribution`, step, async () => {
    await roundTrip(startDist, startUnderTest, 'from-distribution');
  });

  it(`distribution serves a root written by ${targetKind()}`, step, async () => {
    await roundTrip(startUnderTest, startDist, 'from-target');
  });
});
