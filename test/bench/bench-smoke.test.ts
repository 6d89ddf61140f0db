// Runs `node bench/run.ts --quick` end to end against the real registries (Debian's docker-registry, CNCF
// Distribution v3.1 built by bench/install.sh, and Berth) and checks that it produced the table with all its metrics. It proves the bench code works; the
// numbers themselves are not judged here (a quick run on a shared CI machine is far too noisy for that).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { exec } from '../harness/exec.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { writeBlobFile } from '../../bench/blob-file.ts';
import { pushChunked, pushMonolithic } from '../../bench/blob-push.ts';
import { startRegistry } from '../../bench/registries.ts';

const rowLabels = [
  'monolithic push (MB/s)',
  'chunked push (MB/s)',
  'pull (MB/s)',
  'manifest GET by tag (req/s)',
  'manifest GET, distinct tags in turn (req/s)',
  'peak RSS during the monolithic push (MiB)',
  'peak RSS during manifest GET load (MiB)',
];

describe('bench --quick', { timeout: 120_000 }, () => {
  let dir: string;
  let stdout: string;
  let markdown: string;
  let json: {
    summary: { metric: string; vs: Record<string, { ratio: number }> }[];
    samples: Record<string, unknown>;
  };

  before(async () => {
    dir = await makeTempDir('bench-smoke');
    // Small blob, short wrk runs: the whole run stays well under a minute.
    const run = await exec(
      requireTool('node'),
      ['bench/run.ts', '--quick', '--size-mib', '32', '--duration', '2', '--results', dir, '--name', 'smoke'],
      { cwd: repoRoot, timeoutMs: 110_000 },
    );
    stdout = run.stdout;
    markdown = await readFile(path.join(dir, 'smoke.md'), 'utf8');
    json = JSON.parse(await readFile(path.join(dir, 'smoke.json'), 'utf8')) as typeof json;
  });

  after(async () => {
    if (dir) await removeTempDir(dir);
  });

  it('prints and writes a table with every metric and numeric values', () => {
    assert.ok(
      stdout.includes(
        '| metric | Distribution 2.8 | Distribution v3.1 | Berth | Berth/2.8 | Berth/v3.1 | target (2.8 / v3.1) | met? |',
      ),
      stdout,
    );
    for (const label of rowLabels) {
      const row = markdown.split('\n').find((line) => line.startsWith(`| ${label} `));
      assert.ok(row, `no row for ${label} in:\n${markdown}`);
      const cells = row.split('|').map((c) => c.trim());
      // ['', metric, 2.8, v3.1, berth, ratio 2.8, ratio v3.1, target, met, '']
      const [, , distribution, distributionV3, berth, ratio, ratioV3, , met] = cells;
      for (const value of [distribution, distributionV3, berth]) {
        assert.match(value ?? '', /^\d[\d,]*(\.\d+)?$/, `${label}: ${value} is not a number`);
      }
      for (const r of [ratio, ratioV3]) assert.match(r ?? '', /^\d+\.\d+×/, `${label}: ratio ${r}`);
      assert.match(met ?? '', /^(yes|\*\*no\*\*) \/ (yes|\*\*no\*\*)$/, `${label}: met? ${met}`);
    }
  });

  it("states each registry's RSS when the push and the manifest load began", () => {
    for (const step of ['push', 'manifest load']) {
      const note = markdown
        .split('\n')
        .find((line) => line.startsWith(`- RSS when the ${step} started (median):`));
      assert.ok(note, `no note on the RSS when the ${step} started in:\n${markdown}`);
      for (const label of ['Distribution 2.8', 'Distribution v3.1', 'Berth']) {
        assert.match(note, new RegExp(`${label} \\d+ MiB`), `${step}: ${label} missing or not a number`);
      }
    }
  });

  it('keeps the raw samples in the JSON file', () => {
    for (const metric of ['mono', 'chunked', 'pull', 'manifest', 'manifest-tags', 'rss', 'rss-manifest']) {
      const row = json.summary.find((r) => r.metric === metric);
      assert.ok(row, `no summary for ${metric}`);
      for (const ref of ['distribution', 'distribution-v3']) {
        const ratio = row.vs[ref]?.ratio ?? Number.NaN;
        assert.ok(Number.isFinite(ratio) && ratio > 0, `${metric}: ratio vs ${ref} ${String(ratio)}`);
      }
      assert.ok(json.samples[metric], `no samples for ${metric}`);
    }
  });
});

describe('bench measurements fail on errors', { timeout: 60_000 }, () => {
  it('a push whose digest does not match the content is an error, not a sample', async () => {
    const dir = await makeTempDir('bench-errors');
    const registry = await startRegistry('berth');
    try {
      const blob = await writeBlobFile(dir, 'blob.bin', 1024 * 1024);
      const wrong = { ...blob, digest: `sha256:${'0'.repeat(64)}` };
      await assert.rejects(
        pushMonolithic(registry.client, 'bench/errors', wrong, 'post'),
        /HTTP 201, got 400/,
      );
      await assert.rejects(
        pushChunked(registry.client, 'bench/errors', wrong, 256 * 1024),
        /HTTP 201, got 400/,
      );
    } finally {
      await registry.stop();
      await removeTempDir(dir);
    }
  });
});
