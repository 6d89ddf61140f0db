// Runs `node bench/s3.ts --quick` end to end (MinIO, Debian's docker-registry and Berth, a small blob and a
// small GC corpus) and checks that every row of the table has numbers. The numbers themselves are not judged:
// a quick run on a shared machine is far too noisy for that.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { s3Metrics } from '../../bench/s3.ts';
import { exec } from '../harness/exec.ts';
import { minioBinary } from '../harness/minio.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';

describe('bench/s3.ts --quick', { timeout: 120_000 }, () => {
  let dir = '';
  let stdout = '';
  let markdown = '';
  let json: {
    summary: { metric: string; distribution: number; berth: number; ratio: number }[];
    samples: Record<string, { berth: unknown[]; distribution: unknown[] }>;
  };

  before(async () => {
    assert.ok(existsSync(minioBinary), `MinIO is missing at ${minioBinary}: run test/tools/install-minio.sh`);
    dir = await makeTempDir('s3-bench-smoke');
    const run = await exec(
      requireTool('node'),
      ['bench/s3.ts', '--quick', '--size-mib', '8', '--gc-blobs', '200', '--results', dir, '--name', 'smoke'],
      { cwd: repoRoot, timeoutMs: 110_000 },
    );
    stdout = run.stdout;
    markdown = await readFile(path.join(dir, 'smoke.md'), 'utf8');
    json = JSON.parse(await readFile(path.join(dir, 'smoke.json'), 'utf8')) as typeof json;
  });

  after(async () => {
    if (dir !== '') await removeTempDir(dir);
  });

  it('prints and writes a row with numbers for every metric', () => {
    assert.ok(stdout.includes('| metric | Distribution | Berth | ratio | target | met? |'), stdout);
    for (const def of Object.values(s3Metrics)) {
      const label = `${def.label} (${def.unit})`;
      const row = markdown.split('\n').find((line) => line.startsWith(`| ${label} `));
      assert.ok(row, `no row for ${label} in:\n${markdown}`);
      const [, , distribution, berth, ratio, , met] = row.split('|').map((c) => c.trim());
      for (const value of [distribution, berth]) {
        assert.match(value ?? '', /^\d[\d,]*(\.\d+)?$/, `${label}: ${value} is not a number`);
      }
      assert.match(ratio ?? '', /^\d+\.\d+× /, `${label}: ratio ${ratio}`);
      assert.match(met ?? '', /^(yes|\*\*no\*\*)$/, `${label}: met? ${met}`);
    }
  });

  it('keeps finite medians, ratios and the raw samples in the JSON file', () => {
    for (const metric of Object.keys(s3Metrics)) {
      const row = json.summary.find((r) => r.metric === metric);
      assert.ok(row, `no summary for ${metric}`);
      for (const v of [row.distribution, row.berth, row.ratio]) {
        assert.ok(Number.isFinite(v) && v > 0, `${metric}: ${JSON.stringify(row)}`);
      }
      assert.equal(json.samples[metric]?.berth.length, 1, `${metric}: Berth samples`);
      assert.equal(json.samples[metric]?.distribution.length, 1, `${metric}: Distribution samples`);
    }
  });
});
