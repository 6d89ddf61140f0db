// The ground the HTTP fuzzers run on: a registry over a filesystem root inside a parent directory that also
// holds a sibling directory (what a traversal would hit first), some pushed content to aim at, and the checks
// afterwards: nothing changed outside the root, nothing escaped anywhere, the store is consistent and the
// content no fuzzed request could name is served unchanged.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Authorizer } from '../../registry/auth/types.ts';
import { checkStore, v2Root } from '../harness/store.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { pushBlob, pushImage, type PushedImage } from '../registry/client.ts';
import { escapeMarker, type FuzzTargets } from './fuzz-arbitraries.ts';
import { rawRequest } from './raw-http.ts';

/** Pushed before fuzzing; no generated name can spell it, so it must be served unchanged afterwards. */
const untouchedRepo = 'protected/untouched';

export interface FuzzFixture {
  registry: TestRegistry;
  targets: FuzzTargets;
  /** A blob to read ranges of, in a repository no fuzzed request can name (so none deletes it). */
  rangeBlob: { repo: string; digest: string; content: Buffer };
  /** Asserts everything that must hold after the fuzzing. */
  verify(): Promise<void>;
  close(): Promise<void>;
}

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Starts a session and returns its id (the last segment of Location). */
async function startUpload(url: string, name: string, authorization?: string): Promise<string> {
  const res = await rawRequest(url, {
    method: 'POST',
    path: `/v2/${name}/blobs/uploads/`,
    headers: authorization ? { Authorization: authorization } : {},
  });
  assert.equal(res.status, 202, res.body);
  const location = String(res.headers['location']);
  return location.split('?')[0]?.split('/').at(-1) ?? '';
}

export async function startFuzzFixture(
  options: { authorizer?: Authorizer; adminAuthorization?: string } = {},
): Promise<FuzzFixture> {
  const parent = await mkdtemp(join(tmpdir(), 'berth-fuzz-'));
  const root = join(parent, 'root');
  const sibling = join(parent, 'sibling');
  await mkdir(root);
  await mkdir(join(sibling, 'docker', 'registry', 'v2'), { recursive: true });
  await writeFile(join(sibling, 'sentinel'), 'must not change');

  // Content is pushed over open access; the fuzzed registry (maybe with token auth) then serves the same root.
  const seeding = await startTestRegistry({ root });
  const images: PushedImage[] = [];
  let untouched: PushedImage;
  let rangeBlob: FuzzFixture['rangeBlob'];
  const uploadIds: string[] = [];
  try {
    images.push(await pushImage(seeding.url, 'fuzz/base', 'v1', [Buffer.from('layer one')]));
    images.push(
      await pushImage(seeding.url, 'fuzz/base', 'v2', [Buffer.from('layer one'), Buffer.from('two')]),
    );
    images.push(await pushImage(seeding.url, 'fuzz/other', 'latest', [Buffer.from('other layer')]));
    untouched = await pushImage(seeding.url, untouchedRepo, 'keep', [Buffer.from('untouched layer')]);
    const content = randomBytes(5000);
    rangeBlob = { repo: untouchedRepo, content, digest: await pushBlob(seeding.url, untouchedRepo, content) };
    for (let i = 0; i < 4; i++) uploadIds.push(await startUpload(seeding.url, 'fuzz/base'));
  } finally {
    await seeding.close();
  }
  const registry = await startTestRegistry({
    root,
    ...(options.authorizer ? { authorizer: options.authorizer } : {}),
  });
  const outside = await tree(parent).then((all) => all.filter((p) => p !== 'root' && !p.startsWith('root/')));

  const targets: FuzzTargets = {
    names: ['fuzz/base', 'fuzz/other', 'fuzz/new', 'fuzz'],
    tags: ['v1', 'v2', 'latest', 'keep', 'missing'],
    digests: [...new Set(images.flatMap((i) => [i.digest, i.config, ...i.layers])), rangeBlob.digest],
    uploadIds,
  };

  return {
    registry,
    targets,
    rangeBlob,
    async verify() {
      const now = await tree(parent);
      assert.deepEqual(
        now.filter((p) => p !== 'root' && !p.startsWith('root/')),
        outside,
        'files appeared or vanished beside the storage root',
      );
      assert.equal(await readFile(join(sibling, 'sentinel'), 'utf8'), 'must not change');
      for (const dir of [parent, tmpdir(), dirname(tmpdir()), root, v2Root(root)]) {
        assert.ok(
          !(await access(join(dir, escapeMarker)).then(
            () => true,
            () => false,
          )),
          `a request reached ${join(dir, escapeMarker)}`,
        );
      }
      assert.ok(!now.some((p) => p.includes(escapeMarker)), `a path with ${escapeMarker} in the root`);
      // Content lives under docker/; the driver's scratch directory is the only other entry.
      assert.ok((await readdir(root)).every((e) => e === 'docker' || e === '.tmp-scratch'));
      assert.deepEqual((await readdir(v2Root(root))).sort(), ['blobs', 'repositories']);
      const report = await checkStore(root);
      assert.deepEqual(report.problems, [], 'the store is inconsistent after fuzzing');
      assert.ok(report.repositories.includes(untouchedRepo));

      const res = await rawRequest(registry.url, {
        method: 'GET',
        path: `/v2/${untouchedRepo}/manifests/keep`,
        headers: {
          Accept: 'application/vnd.oci.image.manifest.v1+json',
          ...(options.adminAuthorization ? { Authorization: options.adminAuthorization } : {}),
        },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body, untouched.manifest.toString('utf8'));
    },
    async close() {
      await registry.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}
