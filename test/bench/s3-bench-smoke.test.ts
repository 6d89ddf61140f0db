// Runs `node bench/s3.ts --quick` end to end (MinIO, Debian's docker-registry, Distribution v3.1 and Berth, a
// small blob and a small GC corpus) and checks that every row of the table has numbers for all three and both
// ratios (Berth/2.8, Berth/v3.1). The numbers themselves are not judged:
// a quick run on a shared machine is far too noisy for that.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { s3Metrics, s3TableHead } from '../../bench/s3.ts';
import { exec } from '../harness/exec.ts';
import { minioBinary } from '../harness/minio.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';

const registries = ['distribution', 'distribution-v3', 'berth'];
const references = ['distribution', 'distribution-v3'];

describe('bench/s3.ts --quick', { timeout: 180_000 }, () => {
  let dir = '';
  let stdout = '';
  let markdown = '';
  let json: {
    summary: {
      metric: string;
      values: Record<string, number>;
      vs: Record<string, { ratio: number }>;
    }[];
    samples: Record<string, Record<string, unknown[]>>;
    versions: Record<string, string>;
  };

  before(async () => {
    assert.ok(existsSync(minioBinary), `MinIO is missing at ${minioBinary}: run test/tools/install-minio.sh`);
    dir = await makeTempDir('s3-bench-smoke');
    const run = await exec(
      requireTool('node'),
      ['bench/s3.ts', '--quick', '--size-mib', '8', '--gc-blobs', '200', '--results', dir, '--name', 'smoke'],
      { cwd: repoRoot, timeoutMs: 170_000 },
    );
    stdout = run.stdout;
    markdown = await readFile(path.join(dir, 'smoke.md'), 'utf8');
    json = JSON.parse(await readFile(path.join(dir, 'smoke.json'), 'utf8')) as typeof json;
  });

  after(async () => {
    if (dir !== '') await removeTempDir(dir);
  });

  it('prints and writes a row with numbers for every metric', () => {
    assert.deepEqual(s3TableHead, [
      'metric',
      'Distribution 2.8',
      'Distribution v3.1',
      'Berth',
      'Berth/2.8',
      'Berth/v3.1',
      'target (2.8)',
      'met?',
    ]);
    assert.ok(stdout.includes(`| ${s3TableHead.join(' | ')} |`), stdout);
    for (const def of Object.values(s3Metrics)) {
      const label = `${def.label} (${def.unit})`;
      const row = markdown.split('\n').find((line) => line.startsWith(`| ${label} `));
      assert.ok(row, `no row for ${label} in:\n${markdown}`);
      const [, , d28, d31, berth, ratio28, ratio31, , met] = row.split('|').map((c) => c.trim());
      for (const value of [d28, d31, berth]) {
        assert.match(value ?? '', /^\d[\d,]*(\.\d+)?$/, `${label}: ${value} is not a number`);
      }
      for (const ratio of [ratio28, ratio31])
        assert.match(ratio ?? '', /^\d+\.\d+×/, `${label}: ratio ${ratio}`);
      assert.match(met ?? '', /^(yes|\*\*no\*\*)$/, `${label}: met? ${met}`);
    }
  });

  it('keeps finite medians, ratios and the raw samples in the JSON file', () => {
    for (const metric of Object.keys(s3Metrics)) {
      const row = json.summary.find((r) => r.metric === metric);
      assert.ok(row, `no summary for ${metric}`);
      const values = [
        ...registries.map((kind) => row.values[kind]),
        ...references.map((ref) => row.vs[ref]?.ratio),
      ];
      for (const v of values) {
        assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `${metric}: ${JSON.stringify(row)}`);
      }
      for (const kind of registries) {
        assert.equal(json.samples[metric]?.[kind]?.length, 1, `${metric}: ${kind} samples`);
      }
    }
  });

  it('names the versions of both references', () => {
    const keys = Object.keys(json.versions);
    assert.ok(
      keys.some((k) => k.startsWith('Distribution 2.8')),
      keys.join(', '),
    );
    assert.ok(
      keys.some((k) => k.startsWith('Distribution v3.1')),
      keys.join(', '),
    );
    for (const v of Object.values(json.versions)) assert.match(v, /\d+\.\d+/);
  });
});
