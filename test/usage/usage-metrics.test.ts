// The usage gauges on /metrics: per-repository bytes for the largest repositories only (capped, here at 2,
// so the series count stays bounded), a repository that leaves the top N loses its series, the deduplicated
// total, and the scan's cost as the API states it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pushImage } from '../registry/client.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { getRegistryUsage, layer, pushUsageFixture, type UsageFixture } from './usage-scenario.ts';

/** The samples of one metric, by their label text (`` for none). */
function samples(text: string, metric: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === metric) found.set(m[2] ?? '', Number(m[3]));
  }
  return found;
}

describe('storage usage metrics', () => {
  let registry: TestRegistry;
  let fixture: UsageFixture;
  before(async () => {
    registry = await startTestRegistry({ usage: { intervalMs: 3_600_000, topRepositories: 2 } });
    fixture = await pushUsageFixture(registry.url);
  });
  after(() => registry.close());

  it('has no usage samples before the first scan', async () => {
    const text = await registry.metrics();
    assert.equal(samples(text, 'berth_repository_storage_bytes').size, 0);
    assert.equal(samples(text, 'berth_storage_bytes_total_deduplicated').get(''), 0);
  });

  it('exports the top repositories, the deduplicated total and the scan cost', async () => {
    const small = await pushImage(registry.url, 'team/c', 'v1', [layer(10, 'c')]);
    await registry.usage?.scanNow();
    const text = await registry.metrics();
    assert.deepEqual(
      samples(text, 'berth_repository_storage_bytes'),
      new Map([
        ['{repository="team/b"}', fixture.expectedB],
        ['{repository="team/a"}', fixture.expectedA],
      ]),
      'team/c is the smallest: beyond the cap',
    );
    const all = await getRegistryUsage(registry.url);
    assert.equal(all.totalBytes, fixture.expectedTotal + 10 + small.manifest.length);
    assert.equal(samples(text, 'berth_storage_bytes_total_deduplicated').get(''), all.totalBytes);
    assert.equal(samples(text, 'berth_usage_scan_storage_calls').get(''), all.scan.storageCalls);
    assert.equal(samples(text, 'berth_usage_scan_entries_listed').get(''), all.scan.entriesListed);
    const seconds = samples(text, 'berth_usage_scan_duration_seconds').get('');
    assert.ok(seconds !== undefined && seconds > 0 && seconds < 10, `duration ${String(seconds)}`);
    assert.equal(
      samples(text, 'berth_usage_scan_timestamp_seconds').get(''),
      Date.parse(all.scan.scannedAt) / 1000,
    );
  });

  it('drops the series of a repository that left the top N', async () => {
    await pushImage(registry.url, 'team/c', 'v2', [layer(5000, 'c grows')]);
    await registry.usage?.scanNow();
    const bytes = samples(await registry.metrics(), 'berth_repository_storage_bytes');
    assert.deepEqual([...bytes.keys()].sort(), ['{repository="team/b"}', '{repository="team/c"}']);
  });
});
