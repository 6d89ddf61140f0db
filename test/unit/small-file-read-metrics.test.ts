// The filesystem driver's small-file read counts as Prometheus counters, copied at each scrape.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { readWholeFile } from '../../registry/storage/read-whole-file.ts';
import { SmallFileReads } from '../../registry/storage/small-file-reads.ts';
import { registerSmallFileReadMetrics } from '../../registry/storage/small-file-read-metrics.ts';
import { requireMetricSample as sample } from '../harness/prometheus.ts';
import { makeTempDir } from '../harness/tmp.ts';

test('blocking, pooled and paused reads are exported as they happen, scrape after scrape', async () => {
  const dir = await makeTempDir('small-read-metrics');
  const link = path.join(dir, 'link');
  await writeFile(link, 'sha256:' + 'a'.repeat(64));
  let clock = 0;
  let step = 0;
  const reads = new SmallFileReads({
    local: true,
    pooled: readWholeFile,
    slowMs: 5,
    pauseMs: 1000,
    now: () => (clock += step),
  });
  const registry = new Registry();
  registerSmallFileReadMetrics(registry, reads);

  const blocking = 'berth_storage_small_file_reads_total{mode="blocking"}';
  const pooled = 'berth_storage_small_file_reads_total{mode="pooled"}';
  const pauses = 'berth_storage_small_file_read_pauses_total';
  let text = await registry.metrics();
  assert.deepEqual([sample(text, blocking), sample(text, pooled), sample(text, pauses)], [0, 0, 0]);

  await reads.read(link);
  await reads.read(link);
  step = 50; // the next read takes 50 ms: the watchdog pauses blocking reads
  await reads.read(link);
  step = 0;
  await reads.read(link); // paused: through the thread pool
  text = await registry.metrics();
  assert.deepEqual([sample(text, blocking), sample(text, pooled), sample(text, pauses)], [3, 1, 1]);
  // A second scrape reports the same totals, not twice them.
  text = await registry.metrics();
  assert.deepEqual([sample(text, blocking), sample(text, pooled), sample(text, pauses)], [3, 1, 1]);
});
