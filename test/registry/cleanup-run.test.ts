// A cleanup run (operator/operations/cleanup/run.ts) against a real registry over loopback HTTP, through the
// operator's registry client: GitLab's algorithm decides, tags are deleted by tag (a manifest another tag
// points to stays), a dry run deletes nothing, the policy's repository patterns scope it, tags in use stay,
// and maxTagsPerRun and the deadline bound it (oldest first, the rest reported as deferred and truncated).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupPolicySpecSchema, type CleanupPolicySpecInput } from '../../operator/api/cleanup-policy.ts';
import { RegistryClient } from '../../operator/operations/cleanup/registry-client.ts';
import { runCleanup, type RunReport } from '../../operator/operations/cleanup/run.ts';
import { buildImage } from '../harness/oci-image.ts';
import { pushBlob, putManifest } from './client.ts';
import { startTestRegistry, type TestRegistry } from './server.ts';

const jan = (day: number) => new Date(Date.UTC(2024, 0, day)).toISOString();
const now = new Date(Date.UTC(2024, 6, 1));
const far = new Date(Date.now() + 60_000);

let registry: TestRegistry;
const digests = new Map<string, string>();

/** Pushes `repo:tag` whose config says `created`; the same `image` may go under several tags. */
async function push(
  repo: string,
  tag: string,
  created: string,
  image = buildImage({ created, layerBytes: 16 }),
) {
  for (const b of [...image.layers, image.config]) await pushBlob(registry.url, repo, b.bytes);
  const res = await putManifest(registry.url, repo, tag, image.manifest.bytes);
  assert.equal(res.status, 201);
  digests.set(`${repo}:${tag}`, image.manifest.digest);
  return image;
}

async function tags(repo: string): Promise<string[]> {
  const res = await fetch(`${registry.url}/v2/${repo}/tags/list`);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

function run(
  spec: Partial<CleanupPolicySpecInput>,
  opts: { inUse?: string[]; deadline?: Date } = {},
): Promise<RunReport> {
  const parsed = cleanupPolicySpecSchema.parse({ registryRef: { name: 'r' }, cadence: '1d', ...spec });
  const client = new RegistryClient({ baseUrl: registry.url, tokenFor: async () => 'unused: open access' });
  return runCleanup({
    registry: client,
    spec: parsed,
    inUse: { digests: new Set(opts.inUse ?? []), references: new Set() },
    now,
    deadline: opts.deadline ?? far,
  });
}

describe('a cleanup run against a real registry', () => {
  before(async () => {
    registry = await startTestRegistry({ settings: { deleteEnabled: true } });
  });
  after(() => registry.close());

  it('a dry run deletes nothing and reports what would go', async () => {
    for (let d = 1; d <= 4; d++) await push('dry/app', `v${String(d)}`, jan(d));
    const report = await run({ keepN: 1, olderThan: '30d', dryRun: true });
    assert.deepEqual(
      report.repositories.map((r) => [r.repository, r.deleted]),
      [['dry/app', ['v1', 'v2', 'v3']]],
    );
    assert.equal(report.tagsDeleted, 3);
    assert.deepEqual((await tags('dry/app')).sort(), ['v1', 'v2', 'v3', 'v4']);
  });

  it('deletes expired tags by tag: a manifest another kept tag points to stays', async () => {
    const shared = await push('alias/app', 'old', jan(1));
    await push('alias/app', 'stable', jan(1), shared); // the same manifest as `old`
    await push('alias/app', 'new', jan(20));
    const report = await run({
      keepN: 1,
      olderThan: '30d',
      nameRegex: 'old|new',
      repositories: { include: ['alias/**'] },
    });
    assert.equal(report.tagsDeleted, 1);
    assert.deepEqual((await tags('alias/app')).sort(), ['new', 'stable']);
    const stable = await fetch(`${registry.url}/v2/alias/app/manifests/stable`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(stable.status, 200, 'the shared manifest is still there');
    assert.equal(stable.headers.get('docker-content-digest'), digests.get('alias/app:old'));
  });

  it('scopes to the policy repositories, keeps tags in use, and deletes the rest', async () => {
    for (let d = 1; d <= 3; d++) {
      await push('scope/in', `t${String(d)}`, jan(d));
      await push('scope/out', `t${String(d)}`, jan(d));
    }
    const report = await run(
      { keepN: 0, olderThan: '30d', repositories: { include: ['scope/*'], exclude: ['scope/out'] } },
      { inUse: [digests.get('scope/in:t2') ?? ''] },
    );
    assert.equal(report.tagsInUse, 1);
    assert.deepEqual(await tags('scope/in'), ['t2']);
    assert.deepEqual((await tags('scope/out')).sort(), ['t1', 't2', 't3']);
  });

  it('maxTagsPerRun: the oldest go first, the rest are deferred and the run is truncated', async () => {
    for (let d = 1; d <= 5; d++) await push('budget/app', `b${String(d)}`, jan(d));
    const report = await run({
      keepN: 0,
      olderThan: '30d',
      maxTagsPerRun: 2,
      repositories: { include: ['budget/**'] },
    });
    assert.equal(report.truncated, true);
    assert.deepEqual(report.repositories[0]?.deleted, ['b1', 'b2']);
    assert.deepEqual(report.repositories[0]?.deferred, ['b3', 'b4', 'b5']);
    assert.deepEqual((await tags('budget/app')).sort(), ['b3', 'b4', 'b5']);
  });

  it('a run past its deadline deletes nothing more and says so', async () => {
    await push('late/app', 'x1', jan(1));
    const report = await run(
      { keepN: 0, olderThan: '30d', repositories: { include: ['late/**'] } },
      { deadline: new Date(Date.now() - 1) },
    );
    assert.equal(report.truncated, true);
    assert.equal(report.tagsDeleted, 0);
    assert.match(report.repositories[0]?.errors[0] ?? '', /timeout/);
    assert.deepEqual(await tags('late/app'), ['x1']);
  });
});
