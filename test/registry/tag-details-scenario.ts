// One repository whose every tag exercises a field of `GET /berth/v1/repositories/<name>/tags`, pushed over
// the real HTTP API, and the check of what the endpoint answers for it. Shared by the filesystem test
// (test/registry/tag-details.test.ts) and the object-store ones (test/storage/tag-details-object-stores.test.ts),
// because each driver gives `tagWrittenAt` from its own stat.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { Repository } from '../../registry/store/repository.ts';
import { tagDetailsPageSchema, type TagDetailsEntry } from '../../registry/http/tag-details-api.ts';
import { pushBlob, putManifest, sha256 } from './client.ts';

const oci = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  empty: 'application/vnd.oci.empty.v1+json',
};
const docker = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

interface Pushed {
  digest: string;
  mediaType: string;
  manifest: Buffer;
  /** Manifest + config + layers (+ children), distinct digests once. */
  totalSize: number;
}

/** Pushes config and layers, then the manifest under `tag` (by its digest when null). */
async function pushImage(
  url: string,
  repo: string,
  tag: string | null,
  opts: { config: Record<string, unknown>; layers: Buffer[]; format?: 'oci' | 'docker'; configType?: string },
): Promise<Pushed> {
  const types = opts.format === 'docker' ? docker : oci;
  const config = Buffer.from(JSON.stringify(opts.config));
  const configType = opts.configType ?? types.config;
  await pushBlob(url, repo, config);
  for (const layer of opts.layers) await pushBlob(url, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: configType, digest: sha256(config), size: config.length },
      layers: opts.layers.map((l) => ({ mediaType: types.layer, digest: sha256(l), size: l.length })),
    }),
  );
  const res = await putManifest(url, repo, tag ?? sha256(manifest), manifest, types.manifest);
  assert.equal(res.status, 201, `push ${repo}:${tag ?? 'digest'}: ${await res.text()}`);
  const distinct = new Map([[sha256(config), config.length]]);
  for (const l of opts.layers) distinct.set(sha256(l), l.length);
  let totalSize = manifest.length;
  for (const size of distinct.values()) totalSize += size;
  return { digest: sha256(manifest), mediaType: types.manifest, manifest, totalSize };
}

export interface TagDetailsFixture {
  repo: string;
  /** What the endpoint must answer, tagWrittenAt aside (checked against `written`). */
  expected: Map<string, Omit<TagDetailsEntry, 'tagWrittenAt'>>;
  /** When each tag's link was written: between `before` and `after` (ms). */
  written: Map<string, { before: number; after: number }>;
}

/**
 * Pushes the fixture's tags: dated images (one with nanoseconds, one with an offset), an alias sharing a
 * digest, an image without `created`, an artifact (empty config), a two-image index whose images share a
 * layer, and a dangling tag (its link points at a manifest the repository does not hold).
 */
export async function pushTagDetailsFixture(
  url: string,
  repo: string,
  driver: StorageDriver,
): Promise<TagDetailsFixture> {
  const expected: TagDetailsFixture['expected'] = new Map();
  const written: TagDetailsFixture['written'] = new Map();
  const timed = async <T>(tags: string[], push: () => Promise<T>): Promise<T> => {
    const before = Date.now();
    const result = await push();
    const after = Date.now();
    for (const tag of tags) written.set(tag, { before, after });
    return result;
  };
  const image = (p: Pushed, created?: string): Omit<TagDetailsEntry, 'name' | 'tagWrittenAt'> => ({
    digest: p.digest,
    mediaType: p.mediaType,
    size: p.manifest.length,
    totalSize: p.totalSize,
    ...(created !== undefined ? { created } : {}),
  });
  const layer = (s: string): Buffer => Buffer.from(`${repo} layer ${s}`);

  const v1 = await timed(['v1'], () =>
    pushImage(url, repo, 'v1', {
      config: { created: '2023-01-15T10:00:00Z', architecture: 'amd64', os: 'linux' },
      layers: [layer('1')],
    }),
  );
  expected.set('v1', { name: 'v1', ...image(v1, '2023-01-15T10:00:00.000Z') });

  const v2 = await timed(['v2'], () =>
    pushImage(url, repo, 'v2', {
      config: { created: '2024-06-01T12:30:45.123456789Z', architecture: 'amd64', os: 'linux' },
      layers: [layer('2a'), layer('2b')],
    }),
  );
  expected.set('v2', { name: 'v2', ...image(v2, '2024-06-01T12:30:45.123Z') });
  await timed(['v2-alias'], async () => {
    const res = await putManifest(url, repo, 'v2-alias', v2.manifest);
    assert.equal(res.status, 201);
  });
  expected.set('v2-alias', { name: 'v2-alias', ...image(v2, '2024-06-01T12:30:45.123Z') });

  const dockerImage = await timed(['docker'], () =>
    pushImage(url, repo, 'docker', {
      format: 'docker',
      config: { created: '2022-03-04T05:06:07+02:00', architecture: 'arm64', os: 'linux' },
      layers: [layer('d')],
    }),
  );
  expected.set('docker', { name: 'docker', ...image(dockerImage, '2022-03-04T03:06:07.000Z') });

  const nodate = await timed(['nodate'], () =>
    pushImage(url, repo, 'nodate', { config: { architecture: 'amd64', os: 'linux' }, layers: [layer('n')] }),
  );
  expected.set('nodate', { name: 'nodate', ...image(nodate) });

  const artifact = await timed(['artifact'], () =>
    pushImage(url, repo, 'artifact', { config: {}, configType: oci.empty, layers: [layer('art')] }),
  );
  expected.set('artifact', { name: 'artifact', ...image(artifact) });

  // An index of two images that share a layer: the index is as new as its newest image.
  const shared = layer('shared');
  const children: Pushed[] = [];
  for (const [architecture, created] of [
    ['amd64', '2024-01-01T00:00:00Z'],
    ['arm64', '2024-03-01T08:00:00Z'],
  ] as const) {
    children.push(
      await pushImage(url, repo, null, { config: { created, architecture, os: 'linux' }, layers: [shared] }),
    );
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: oci.index,
      manifests: children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.manifest.length,
        platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
      })),
    }),
  );
  await timed(['multi'], async () => {
    const res = await putManifest(url, repo, 'multi', index, oci.index);
    assert.equal(res.status, 201, await res.text());
  });
  const [c0, c1] = children;
  assert.ok(c0 && c1);
  expected.set('multi', {
    name: 'multi',
    digest: sha256(index),
    mediaType: oci.index,
    size: index.length,
    // Each child's total counts the shared layer; the index counts it once.
    totalSize: index.length + c0.totalSize + c1.totalSize - shared.length,
    created: '2024-03-01T08:00:00.000Z',
    manifests: [c0.digest, c1.digest],
  });

  // A tag whose manifest the repository does not hold (as a crash or a foreign tool can leave it).
  const missing = sha256('no such manifest');
  await timed(['dangling'], () => new Repository(driver, repo).tag('dangling', missing));
  expected.set('dangling', { name: 'dangling', digest: missing });

  return { repo, expected, written };
}

/** GETs one page of tag details and parses it with the wire schema. */
export async function getTagDetails(
  url: string,
  repo: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<{ res: Response; entries: TagDetailsEntry[]; link: string | null }> {
  const res = await fetch(`${url}/berth/v1/repositories/${repo}/tags${query}`, { headers });
  assert.equal(res.status, 200, `GET tags of ${repo}${query}: ${res.status}`);
  const page = tagDetailsPageSchema.parse(await res.json());
  assert.equal(page.name, repo);
  return { res, entries: page.tags, link: res.headers.get('link') };
}

/**
 * Checks every field of every tag. Stores with whole-second modification times (S3, Azure) may round the
 * write time down by up to a second.
 */
export function checkTagDetails(fixture: TagDetailsFixture, entries: TagDetailsEntry[]): void {
  assert.deepEqual(
    entries.map((e) => e.name),
    [...fixture.expected.keys()].sort(),
    'every tag, sorted by name',
  );
  for (const entry of entries) {
    const { tagWrittenAt, ...rest } = entry;
    assert.deepEqual(rest, fixture.expected.get(entry.name), `fields of ${entry.name}`);
    const window = fixture.written.get(entry.name);
    assert.ok(window && tagWrittenAt !== undefined, `${entry.name} has tagWrittenAt`);
    const at = Date.parse(tagWrittenAt);
    assert.ok(
      at >= Math.floor(window.before / 1000) * 1000 - 1000 && at <= window.after + 1000,
      `${entry.name}: tagWrittenAt ${tagWrittenAt} outside ${new Date(window.before).toISOString()} … ${new Date(window.after).toISOString()}`,
    );
  }
}

/** Re-pushing a tag rewrites its link: tagWrittenAt moves on, created stays (whole-second stores need 1 s). */
export async function checkRepushMovesTagWrittenAt(url: string, fixture: TagDetailsFixture): Promise<void> {
  const before = (await getTagDetails(url, fixture.repo)).entries.find((e) => e.name === 'v1');
  assert.ok(before?.tagWrittenAt);
  await sleep(1100);
  const manifest = await fetch(`${url}/v2/${fixture.repo}/manifests/v1`, {
    headers: { Accept: oci.manifest },
  });
  const res = await putManifest(url, fixture.repo, 'v1', Buffer.from(await manifest.arrayBuffer()));
  assert.equal(res.status, 201);
  const after = (await getTagDetails(url, fixture.repo)).entries.find((e) => e.name === 'v1');
  assert.ok(after?.tagWrittenAt);
  assert.ok(Date.parse(after.tagWrittenAt) > Date.parse(before.tagWrittenAt), 'the re-push is newer');
  assert.equal(after.created, before.created);
  assert.equal(after.digest, before.digest);
}
