// The cleanup-policy algorithm (operator/operations/cleanup/algorithm.ts), table-driven: GitLab's documented
// examples, then each step on its own, dates and ties, tags sharing a manifest, in-use protection and the
// per-run budget.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { TagDetailsEntry } from '../../registry/http/tag-details-api.ts';
import {
  planCleanup,
  type CleanupInput,
  type CleanupPlan,
  type CleanupRules,
  type ImagesInUse,
} from '../../operator/operations/cleanup/algorithm.ts';

const now = new Date('2025-06-30T12:00:00.000Z');
const day = 86_400_000;
const repository = 'team/app';

function digestOf(s: string): string {
  return `sha256:${createHash('sha256').update(s).digest('hex')}`;
}

const ago = (days: number): string => new Date(now.getTime() - days * day).toISOString();

interface TagSpec {
  /** The image config's `created`, in days before now. */
  created?: number;
  /** When the tag was written, in days before now (default: the created age). */
  written?: number;
  /** The manifest the tag points at (default: one of its own). */
  image?: string;
  noManifest?: boolean;
  manifests?: string[];
}

/** Tag details as the endpoint gives them. */
function tag(name: string, spec: TagSpec = {}): TagDetailsEntry {
  const written = spec.written ?? spec.created ?? 0;
  return {
    name,
    digest: digestOf(spec.image ?? name),
    ...(spec.noManifest ? {} : { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500 }),
    ...(spec.created !== undefined ? { created: ago(spec.created) } : {}),
    tagWrittenAt: ago(written),
    ...(spec.manifests ? { manifests: spec.manifests } : {}),
  };
}

const rules = (r: Partial<CleanupRules>): CleanupRules => ({
  keepN: 10,
  olderThan: '90d',
  nameRegex: '.*',
  ...r,
});

function plan(
  tags: TagDetailsEntry[],
  r: Partial<CleanupRules>,
  extra: Partial<CleanupInput> = {},
): CleanupPlan {
  return planCleanup({ repository, tags, rules: rules(r), now, ...extra });
}

/** Each tag's fate as `delete`, `defer` or the keep reason. */
function fates(p: CleanupPlan): Record<string, string> {
  return Object.fromEntries(p.decisions.map((d) => [d.tag, d.action === 'keep' ? d.reason : d.action]));
}

interface Example {
  what: string;
  rules: Partial<CleanupRules>;
  tags: TagDetailsEntry[];
  expected: Record<string, string>;
  /** Deletion order, oldest first. */
  deletions?: string[];
}

describe('cleanup algorithm: GitLab documented examples', () => {
  const examples: Example[] = [
    {
      // GitLab docs, "Use the cleanup policy API": every tag, keep 1, older than 14 days, keep *-main.
      what: 'keepN 1, olderThan 14d, nameRegex .*, nameRegexKeep .*-main',
      rules: { keepN: 1, olderThan: '14d', nameRegex: '.*', nameRegexKeep: '.*-main' },
      tags: [
        tag('latest', { created: 40 }),
        tag('release-main', { created: 30 }),
        tag('9f3a2c1', { created: 2 }),
        tag('v1.2', { created: 10 }),
        tag('v1.1', { created: 20 }),
        tag('v1.0', { created: 50 }),
      ],
      expected: {
        latest: 'latest',
        'release-main': 'nameRegexKeep',
        '9f3a2c1': 'keepN',
        'v1.2': 'newerThan',
        'v1.1': 'delete',
        'v1.0': 'delete',
      },
      deletions: ['v1.0', 'v1.1'],
    },
    {
      what: 'keep the 5 newest of .*',
      rules: { keepN: 5, olderThan: '0d', nameRegex: '.*' },
      tags: [1, 2, 3, 4, 5, 6, 7].map((n) => tag(`build-${n}`, { created: n })),
      expected: {
        'build-1': 'keepN',
        'build-2': 'keepN',
        'build-3': 'keepN',
        'build-4': 'keepN',
        'build-5': 'keepN',
        'build-6': 'delete',
        'build-7': 'delete',
      },
      deletions: ['build-7', 'build-6'],
    },
    {
      what: 'keep v.+ (whole name: "v" alone and "dev1" are not kept)',
      rules: { keepN: 0, olderThan: '0d', nameRegex: '.*', nameRegexKeep: 'v.+' },
      tags: [tag('v1.0', { created: 30 }), tag('v', { created: 30 }), tag('dev1', { created: 30 })],
      expected: { 'v1.0': 'nameRegexKeep', v: 'delete', dev1: 'delete' },
    },
    {
      what: 'expire .*-master older than 14d',
      rules: { keepN: 0, olderThan: '14d', nameRegex: '.*-master' },
      tags: [
        tag('a-master', { created: 20 }),
        tag('b-master', { created: 5 }),
        tag('master', { created: 30 }),
        tag('a-master-fix', { created: 30 }),
      ],
      expected: {
        'a-master': 'delete',
        'b-master': 'newerThan',
        master: 'noMatch',
        'a-master-fix': 'noMatch',
      },
    },
    {
      // GitLab docs, bulk delete: "Remove tag names that are Git SHAs, always keep at least 5, and remove any
      // that are older than 2 days".
      what: 'Git SHAs ([0-9a-z]{40}), keep 5, older than 2 days',
      rules: { keepN: 5, olderThan: '2d', nameRegex: '[0-9a-z]{40}' },
      tags: [
        ...[1, 2, 3, 4, 5, 6, 7].map((n) =>
          tag(createHash('sha1').update(String(n)).digest('hex'), { created: n }),
        ),
        tag('main', { created: 100 }),
      ],
      expected: {
        ...Object.fromEntries(
          [1, 2, 3, 4, 5, 6, 7].map((n) => [
            createHash('sha1').update(String(n)).digest('hex'),
            n <= 5 ? 'keepN' : 'delete',
          ]),
        ),
        main: 'noMatch',
      },
    },
    {
      // GitLab docs, bulk delete: "Remove all tags, but keep always tags beginning with stable".
      what: 'all tags, keeping stable.*',
      rules: { keepN: 0, olderThan: '0d', nameRegex: '.*', nameRegexKeep: 'stable.*' },
      tags: [tag('stable', { created: 9 }), tag('stable-1', { created: 9 }), tag('unstable', { created: 9 })],
      expected: { stable: 'nameRegexKeep', 'stable-1': 'nameRegexKeep', unstable: 'delete' },
    },
    {
      // GitLab docs, bulk delete: "Remove all tags that are older than 1 month".
      what: 'all tags older than a month (30d)',
      rules: { keepN: 0, olderThan: '30d', nameRegex: '.*' },
      tags: [tag('old', { created: 31 }), tag('recent', { created: 29 })],
      expected: { old: 'delete', recent: 'newerThan' },
    },
    {
      // GitLab docs, regex examples: the alternation is grouped by the whole-name anchors.
      what: 'nameRegexKeep (?:v.+|main|release.*)',
      rules: { keepN: 0, olderThan: '0d', nameRegex: '.*', nameRegexKeep: '(?:v.+|main|release.*)' },
      tags: ['v2', 'main', 'main-old', 'release', 'release-2', 'prerelease'].map((n) =>
        tag(n, { created: 5 }),
      ),
      expected: {
        v2: 'nameRegexKeep',
        main: 'nameRegexKeep',
        'main-old': 'delete',
        release: 'nameRegexKeep',
        'release-2': 'nameRegexKeep',
        prerelease: 'delete',
      },
    },
  ];

  for (const ex of examples) {
    it(ex.what, () => {
      const p = plan(ex.tags, ex.rules);
      assert.deepEqual(fates(p), ex.expected);
      if (ex.deletions) assert.deepEqual(p.deletions, ex.deletions);
      assert.deepEqual(
        [...p.deletions].sort(),
        Object.keys(ex.expected)
          .filter((t) => ex.expected[t] === 'delete')
          .sort(),
      );
    });
  }

  it('latest pointing at the same manifest as an expired tag: the tag goes, the manifest stays', () => {
    const p = plan([tag('latest', { image: 'x', created: 60 }), tag('old', { image: 'x', created: 60 })], {
      keepN: 0,
      olderThan: '30d',
    });
    assert.deepEqual(fates(p), { latest: 'latest', old: 'delete' });
    const old = p.decisions.find((d) => d.tag === 'old');
    assert.ok(old?.action === 'delete' && old.manifestStillTagged);
    assert.deepEqual(p.untaggedDigests, []);
  });
});

describe('cleanup algorithm: the README example', () => {
  it('decides the README table (README.md, "Cleanup policies")', () => {
    const at = (iso: string): string => new Date(iso).toISOString();
    const image = (
      name: string,
      created: string | undefined,
      written: string,
      image = name,
    ): TagDetailsEntry => ({
      ...tag(name, { image }),
      created: created === undefined ? undefined : at(created),
      tagWrittenAt: at(written),
    });
    const tags = [
      image('latest', '2025-06-01T09:00:00Z', '2025-06-01T09:05:00Z', 'main-5c6d7e8'),
      image('nightly', '2025-06-29T02:00:00Z', '2025-06-29T02:10:00Z'),
      image('v1.2.0', '2025-01-10T12:00:00Z', '2025-01-10T12:10:00Z'),
      { ...tag('main-0badc0d', { noManifest: true }), tagWrittenAt: at('2025-03-01T08:00:00Z') },
      image('main-4e5f6a7', '2025-06-28T10:00:00Z', '2025-06-28T10:05:00Z'),
      image('main-1a2b3c4', undefined, '2025-06-25T16:00:00Z'),
      image('main-9d8e7f6', '2025-06-20T11:00:00Z', '2025-06-20T11:05:00Z'),
      image('main-5c6d7e8', '2025-06-01T09:00:00Z', '2025-06-01T09:05:00Z'),
      image('v1.3.0-rc1', '2025-05-20T15:00:00Z', '2025-05-20T15:05:00Z'),
      image('main-7f8e9d0', '2025-05-01T07:00:00Z', '2025-05-01T07:05:00Z'),
    ];
    const p = planCleanup({
      repository: 'team/app',
      tags,
      rules: {
        keepN: 2,
        olderThan: '14d',
        nameRegex: '.*-[0-9a-f]{7}|v.+',
        nameRegexKeep: 'v[0-9]+[.][0-9]+[.][0-9]+',
      },
      now: new Date('2025-06-30T12:00:00Z'),
      inUse: { digests: new Set(), references: new Set(['team/app:main-7f8e9d0']) },
    });
    assert.deepEqual(fates(p), {
      latest: 'latest',
      nightly: 'noMatch',
      'v1.2.0': 'nameRegexKeep',
      'main-0badc0d': 'noManifest',
      'main-4e5f6a7': 'keepN',
      'main-1a2b3c4': 'keepN',
      'main-9d8e7f6': 'newerThan',
      'main-5c6d7e8': 'delete',
      'v1.3.0-rc1': 'delete',
      'main-7f8e9d0': 'inUse',
    });
    assert.deepEqual(p.deletions, ['v1.3.0-rc1', 'main-5c6d7e8']);
    const shared = p.decisions.find((d) => d.tag === 'main-5c6d7e8');
    assert.ok(shared?.action === 'delete' && shared.manifestStillTagged, 'latest still points at it');
    assert.deepEqual(p.untaggedDigests, [digestOf('v1.3.0-rc1')]);
  });
});

describe('cleanup algorithm: each step', () => {
  it('2: latest is kept whatever the rules, and takes no keepN place', () => {
    const p = plan([tag('latest', { created: 1 }), tag('a', { created: 2 }), tag('b', { created: 3 })], {
      keepN: 1,
      olderThan: '0d',
    });
    assert.deepEqual(fates(p), { latest: 'latest', a: 'keepN', b: 'delete' });
  });

  it('3: nameRegex must match the whole name', () => {
    const p = plan(
      ['v12', 'v12-rc', 'xv12'].map((n) => tag(n, { created: 100 })),
      {
        keepN: 0,
        nameRegex: 'v[0-9]+',
      },
    );
    assert.deepEqual(fates(p), { v12: 'delete', 'v12-rc': 'noMatch', xv12: 'noMatch' });
  });

  it('4: nameRegexKeep wins over nameRegex and takes no keepN place (GitLab filters it before keepN)', () => {
    const p = plan([tag('main', { created: 1 }), tag('a', { created: 2 }), tag('b', { created: 3 })], {
      keepN: 1,
      olderThan: '0d',
      nameRegexKeep: 'main',
    });
    assert.deepEqual(fates(p), { main: 'nameRegexKeep', a: 'keepN', b: 'delete' });
  });

  it('5: tags without a manifest are kept and take no keepN place', () => {
    const dangling = tag('dangling', { created: 1, noManifest: true });
    const noLink: TagDetailsEntry = { name: 'nolink' };
    const p = plan([dangling, noLink, tag('a', { created: 2 }), tag('b', { created: 3 })], {
      keepN: 1,
      olderThan: '0d',
    });
    assert.deepEqual(fates(p), { dangling: 'noManifest', nolink: 'noManifest', a: 'keepN', b: 'delete' });
    assert.deepEqual(
      p.decisions.find((d) => d.tag === 'nolink'),
      { action: 'keep', tag: 'nolink', reason: 'noManifest' },
    );
  });

  it('6: orders by created, else by when the tag was written', () => {
    // `rebuilt` was pushed yesterday but its image is 50 days old: it is ordered as 50 days old.
    const tags = [
      tag('rebuilt', { created: 50, written: 1 }),
      tag('undated', { written: 20 }),
      tag('fresh', { created: 10, written: 10 }),
    ];
    const p = plan(tags, { keepN: 1, olderThan: '15d' });
    assert.deepEqual(fates(p), { fresh: 'keepN', undated: 'delete', rebuilt: 'delete' });
    assert.deepEqual(p.deletions, ['rebuilt', 'undated']);
    const sources = Object.fromEntries(
      p.decisions.map((d) => [d.tag, d.action === 'keep' && !('date' in d) ? undefined : d.dateSource]),
    );
    assert.deepEqual(sources, { rebuilt: 'created', undated: 'tagWrittenAt', fresh: 'created' });
    const rebuilt = p.decisions.find((d) => d.tag === 'rebuilt');
    assert.ok(rebuilt && 'date' in rebuilt);
    assert.equal(rebuilt.date, ago(50));
  });

  it('6: a created at or before 1970 (reproducible builds) is no date: the write time is used', () => {
    const epoch = { ...tag('epoch', { written: 1 }), created: '1970-01-01T00:00:00.000Z' };
    const zero = { ...tag('zero', { written: 40 }), created: '0001-01-01T00:00:00.000Z' };
    const p = plan([epoch, zero], { keepN: 0, olderThan: '30d' });
    assert.deepEqual(fates(p), { epoch: 'newerThan', zero: 'delete' });
    const d = p.decisions.find((x) => x.tag === 'epoch');
    assert.ok(d && 'dateSource' in d);
    assert.equal(d.dateSource, 'tagWrittenAt');
  });

  it('6: a tag with no date at all counts as the newest (GitLab)', () => {
    const undated: TagDetailsEntry = { ...tag('undated'), tagWrittenAt: undefined };
    const p = plan([undated, tag('a', { created: 5 }), tag('b', { created: 6 })], {
      keepN: 1,
      olderThan: '1d',
    });
    assert.deepEqual(fates(p), { undated: 'keepN', a: 'delete', b: 'delete' });
    const d = p.decisions.find((x) => x.tag === 'undated');
    assert.ok(d && 'dateSource' in d);
    assert.equal(d.dateSource, 'none');
  });

  it('6: equal dates are ordered by name, Z to A, whatever the input order', () => {
    const tags = ['b', 'c', 'a', 'd'].map((n) => tag(n, { created: 30 }));
    const expected = { d: 'keepN', c: 'keepN', b: 'delete', a: 'delete' };
    assert.deepEqual(fates(plan(tags, { keepN: 2, olderThan: '7d' })), expected);
    assert.deepEqual(fates(plan([...tags].reverse(), { keepN: 2, olderThan: '7d' })), expected);
    assert.deepEqual(plan(tags, { keepN: 2, olderThan: '7d' }).deletions, ['a', 'b'], 'the reverse order');
  });

  it('7: keepN 0 keeps none; keepN above the count keeps all', () => {
    const tags = [tag('a', { created: 100 }), tag('b', { created: 200 })];
    assert.deepEqual(fates(plan(tags, { keepN: 0 })), { a: 'delete', b: 'delete' });
    assert.deepEqual(fates(plan(tags, { keepN: 5 })), { a: 'keepN', b: 'keepN' });
  });

  it('8: a tag exactly olderThan old is kept; a millisecond older expires', () => {
    const edge = { ...tag('edge'), created: ago(14) };
    const older = { ...tag('older'), created: new Date(now.getTime() - 14 * day - 1).toISOString() };
    assert.deepEqual(fates(plan([edge, older], { keepN: 0, olderThan: '14d' })), {
      edge: 'newerThan',
      older: 'delete',
    });
    assert.deepEqual(fates(plan([edge], { keepN: 0, olderThan: '1d12h' })), { edge: 'delete' });
  });

  it('decisions come sorted by tag name, with counts per keep reason', () => {
    const p = plan(
      [tag('z', { created: 1 }), tag('latest'), tag('m', { created: 100 }), tag('a', { created: 2 })],
      {
        keepN: 1,
        olderThan: '30d',
      },
    );
    assert.deepEqual(
      p.decisions.map((d) => d.tag),
      ['a', 'latest', 'm', 'z'],
    );
    assert.deepEqual(p.kept, {
      latest: 1,
      noMatch: 0,
      nameRegexKeep: 0,
      noManifest: 0,
      keepN: 1,
      newerThan: 1,
      inUse: 0,
    });
  });
});

describe('cleanup algorithm: tags sharing a manifest', () => {
  it('deleting one of two tags of a manifest does not untag the manifest', () => {
    const p = plan(
      [tag('new', { image: 'x', created: 1 }), tag('old', { image: 'x', created: 60, written: 60 })],
      {
        keepN: 1,
        olderThan: '30d',
      },
    );
    assert.deepEqual(fates(p), { new: 'keepN', old: 'delete' });
    const old = p.decisions.find((d) => d.tag === 'old');
    assert.ok(old?.action === 'delete');
    assert.equal(old.digest, digestOf('x'));
    assert.equal(old.manifestStillTagged, true);
    assert.deepEqual(p.untaggedDigests, []);
  });

  it('deleting every tag of a manifest reports it untagged once', () => {
    const p = plan([tag('a', { image: 'x', created: 60 }), tag('b', { image: 'x', created: 60 })], {
      keepN: 0,
      olderThan: '30d',
    });
    assert.deepEqual(p.deletions, ['a', 'b']);
    assert.ok(p.decisions.every((d) => d.action === 'delete' && !d.manifestStillTagged));
    assert.deepEqual(p.untaggedDigests, [digestOf('x')]);
  });

  it('a tag that only waits for the next run still tags the manifest', () => {
    const p = plan(
      [tag('a', { image: 'x', created: 61 }), tag('b', { image: 'x', created: 60 })],
      { keepN: 0, olderThan: '30d' },
      { maxDeletions: 1 },
    );
    assert.deepEqual(fates(p), { a: 'delete', b: 'defer' });
    const a = p.decisions.find((d) => d.tag === 'a');
    assert.ok(a?.action === 'delete' && a.manifestStillTagged);
    assert.deepEqual(p.untaggedDigests, []);
  });
});

describe('cleanup algorithm: images in use', () => {
  const inUse = (digests: string[], references: string[] = []): ImagesInUse => ({
    digests: new Set(digests),
    references: new Set(references),
  });
  const tags = [tag('new', { created: 1 }), tag('old', { created: 40 }), tag('older', { created: 50 })];
  const base = { keepN: 1, olderThan: '30d' };

  it('keeps an expired tag whose manifest a Pod runs by digest', () => {
    const p = plan(tags, base, { inUse: inUse([digestOf('old')]) });
    assert.deepEqual(fates(p), { new: 'keepN', old: 'inUse', older: 'delete' });
    assert.equal(p.kept.inUse, 1);
  });

  it('keeps an expired tag a Pod names as repository:tag, and only in that repository', () => {
    assert.deepEqual(fates(plan(tags, base, { inUse: inUse([], ['team/app:older']) })), {
      new: 'keepN',
      old: 'delete',
      older: 'inUse',
    });
    assert.deepEqual(fates(plan(tags, base, { inUse: inUse([], ['team/other:older', 'team/app:older2']) })), {
      new: 'keepN',
      old: 'delete',
      older: 'delete',
    });
  });

  it('keeps an index tag when a Pod runs one of its images by digest', () => {
    const index = tag('multi', { created: 60, manifests: [digestOf('amd64'), digestOf('arm64')] });
    assert.deepEqual(
      fates(plan([index], { keepN: 0, olderThan: '30d' }, { inUse: inUse([digestOf('arm64')]) })),
      {
        multi: 'inUse',
      },
    );
  });

  it('never changes which tags keepN and olderThan keep (it comes after step 8)', () => {
    const without = fates(plan(tags, base));
    const withNewInUse = fates(plan(tags, base, { inUse: inUse([digestOf('new')]) }));
    assert.deepEqual(without, { new: 'keepN', old: 'delete', older: 'delete' });
    assert.deepEqual(withNewInUse, without, 'a kept tag in use is reported by the step that kept it');
  });
});

describe('cleanup algorithm: the per-run budget', () => {
  const tags = Array.from({ length: 20 }, (_, i) =>
    tag(`t${String(i).padStart(2, '0')}`, { created: 40 + i }),
  );

  it('deletes the oldest expired tags first and defers the rest, reported as truncated', () => {
    const p = plan(tags, { keepN: 0, olderThan: '30d' }, { maxDeletions: 5 });
    assert.deepEqual(p.deletions, ['t19', 't18', 't17', 't16', 't15']);
    assert.deepEqual(p.deferred, [
      't14',
      't13',
      't12',
      't11',
      't10',
      't09',
      't08',
      't07',
      't06',
      't05',
      't04',
      't03',
      't02',
      't01',
      't00',
    ]);
    assert.equal(p.truncated, true);
    assert.equal(plan(tags, { keepN: 0, olderThan: '30d' }, { maxDeletions: 20 }).truncated, false);
    assert.deepEqual(plan(tags, { keepN: 0, olderThan: '30d' }, { maxDeletions: 0 }).deletions, []);
  });

  it('refuses a budget that is not a whole number', () => {
    for (const maxDeletions of [-1, 2.5, Number.NaN]) {
      assert.throws(() => plan(tags, { keepN: 0 }, { maxDeletions }), /whole number/);
    }
  });

  it('finishes over several runs, deleting each tag once and never a kept one', () => {
    let remaining = [...tags];
    const deleted: string[] = [];
    let runs = 0;
    for (;;) {
      const p = plan(remaining, { keepN: 3, olderThan: '30d' }, { maxDeletions: 4 });
      runs++;
      deleted.push(...p.deletions);
      remaining = remaining.filter((t) => !p.deletions.includes(t.name));
      if (!p.truncated) break;
    }
    assert.equal(runs, 5, '17 expired tags at 4 per run');
    assert.equal(new Set(deleted).size, 17);
    assert.deepEqual(
      remaining.map((t) => t.name),
      ['t00', 't01', 't02'],
    );
  });
});
